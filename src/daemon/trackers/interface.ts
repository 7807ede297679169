/**
 * `track_interface IF`: the interface's link state, keepalived 2.2.7's IF_FLAGS_UP (up and
 * running: IFF_UP and the carrier, which rtnetlink reports as `up` and `lowerUp`). The daemon
 * feeds it from the rtnetlink monitor it already runs for the instances' own interfaces
 * (`set`), so tracking an interface costs no socket, no timer and no polling.
 */
import type { Logger } from 'pino';
import type { Tracker, TrackerLevel, TrackerStatus } from './types.js';

export class InterfaceTracker implements Tracker {
  readonly kind = 'interface' as const;
  onChange: ((level: TrackerLevel) => void) | null = null;

  constructor(
    readonly name: string,
    private up: boolean,
    private readonly log: Logger,
  ) {}

  level(): TrackerLevel {
    return { kind: 'bool', up: this.up };
  }

  status(): TrackerStatus {
    return { kind: 'interface', name: this.name, level: this.level(), state: this.up ? 'up' : 'down' };
  }

  /** The link went up or down (rtnetlink); a repeat of the same state is ignored. */
  set(up: boolean): void {
    if (up === this.up) return;
    this.up = up;
    // keepalived logs "Netlink reports IF up/down" and the instances' state changes
    this.log.info({ interface: this.name }, `tracked interface ${this.name} is ${up ? 'up' : 'down'}`);
    this.onChange?.(this.level());
  }

  start(): void {}
  stop(): void {}
}
