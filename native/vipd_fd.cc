// vipd native layer: a generic file-descriptor API and nothing more. No protocol knowledge:
// (and, in vipd_spawn.cc, process creation with posix_spawn)
// addresses (sockaddr) and ancillary data arrive and leave as raw bytes that TypeScript
// builds and parses. Functions: socket, bind, setsockopt, getsockopt, sendto, attachFilter
// (classic BPF bytes from TypeScript), close, mkfifo, and a
// readable watcher (libuv poll on the environment's loop) that delivers every datagram with
// its source address, raw control messages and flags, and a batch watcher that reads with
// recvmmsg into memory JavaScript owns (the per-packet path: no allocation).
#include <napi.h>
#include <uv.h>

#include "vipd_common.h"
#include "vipd_spawn.h"

#include <errno.h>
#include <string.h>
#include <linux/filter.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace {


bool ArgInts(const Napi::CallbackInfo& info, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (!info[i].IsNumber()) {
      Napi::TypeError::New(info.Env(), "expected a number argument").ThrowAsJavaScriptException();
      return false;
    }
  }
  return true;
}

int Int(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int32Value(); }

// socket(domain, type, protocol) -> fd. Always close-on-exec and non-blocking.
Napi::Value Socket(const Napi::CallbackInfo& info) {
  if (!ArgInts(info, 3)) return info.Env().Undefined();
  int fd = socket(Int(info, 0), Int(info, 1) | SOCK_CLOEXEC | SOCK_NONBLOCK, Int(info, 2));
  if (fd < 0) return Fail(info.Env(), errno, "socket");
  return Napi::Number::New(info.Env(), fd);
}

// bind(fd, sockaddr: Buffer)
Napi::Value Bind(const Napi::CallbackInfo& info) {
  if (!ArgInts(info, 1) || !info[1].IsBuffer()) return Fail(info.Env(), EINVAL, "bind");
  auto addr = info[1].As<Napi::Buffer<uint8_t>>();
  if (bind(Int(info, 0), reinterpret_cast<sockaddr*>(addr.Data()), addr.Length()) < 0) return Fail(info.Env(), errno, "bind");
  return info.Env().Undefined();
}

// setsockopt(fd, level, name, value: number | Buffer)
Napi::Value SetSockOpt(const Napi::CallbackInfo& info) {
  if (!ArgInts(info, 3)) return info.Env().Undefined();
  int rc;
  if (info[3].IsBuffer()) {
    auto v = info[3].As<Napi::Buffer<uint8_t>>();
    rc = setsockopt(Int(info, 0), Int(info, 1), Int(info, 2), v.Data(), v.Length());
  } else if (info[3].IsNumber()) {
    int v = Int(info, 3);
    rc = setsockopt(Int(info, 0), Int(info, 1), Int(info, 2), &v, sizeof v);
  } else {
    return Fail(info.Env(), EINVAL, "setsockopt");
  }
  if (rc < 0) return Fail(info.Env(), errno, "setsockopt");
  return info.Env().Undefined();
}

// getsockopt(fd, level, name, size) -> Buffer
Napi::Value GetSockOpt(const Napi::CallbackInfo& info) {
  if (!ArgInts(info, 4)) return info.Env().Undefined();
  std::vector<uint8_t> buf(static_cast<size_t>(Int(info, 3)));
  socklen_t len = buf.size();
  if (getsockopt(Int(info, 0), Int(info, 1), Int(info, 2), buf.data(), &len) < 0) return Fail(info.Env(), errno, "getsockopt");
  return Napi::Buffer<uint8_t>::Copy(info.Env(), buf.data(), len);
}

// sendto(fd, data: Buffer, sockaddr: Buffer | null) -> bytes sent
// sendto(fd, data, sockaddr | null[, control]): with control messages (raw struct cmsghdr
// bytes built in TypeScript, e.g. IPV6_PKTINFO to fix the source address) it is a sendmsg.
Napi::Value SendTo(const Napi::CallbackInfo& info) {
  if (!ArgInts(info, 1) || !info[1].IsBuffer()) return Fail(info.Env(), EINVAL, "sendto");
  auto data = info[1].As<Napi::Buffer<uint8_t>>();
  msghdr msg{};
  iovec iov{data.Data(), data.Length()};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (info[2].IsBuffer()) {
    auto a = info[2].As<Napi::Buffer<uint8_t>>();
    msg.msg_name = a.Data();
    msg.msg_namelen = a.Length();
  }
  if (info.Length() > 3 && info[3].IsBuffer()) {
    auto c = info[3].As<Napi::Buffer<uint8_t>>();
    msg.msg_control = c.Data();
    msg.msg_controllen = c.Length();
  }
  ssize_t n = sendmsg(Int(info, 0), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n < 0) return Fail(info.Env(), errno, "sendto");
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// attachFilter(fd, program: Buffer): SO_ATTACH_FILTER with a classic BPF program given as
// packed struct sock_filter entries (8 bytes each), built in TypeScript. The kernel copies it.
Napi::Value AttachFilter(const Napi::CallbackInfo& info) {
  if (!ArgInts(info, 1) || !info[1].IsBuffer()) return Fail(info.Env(), EINVAL, "setsockopt");
  auto prog = info[1].As<Napi::Buffer<uint8_t>>();
  if (prog.Length() == 0 || prog.Length() % sizeof(sock_filter) != 0) return Fail(info.Env(), EINVAL, "setsockopt");
  sock_fprog fprog{static_cast<unsigned short>(prog.Length() / sizeof(sock_filter)), reinterpret_cast<sock_filter*>(prog.Data())};
  if (setsockopt(Int(info, 0), SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) < 0) return Fail(info.Env(), errno, "setsockopt");
  return info.Env().Undefined();
}

// timerfd() -> fd: a CLOCK_MONOTONIC timer descriptor (non-blocking), for precise wake-ups.
Napi::Value TimerFd(const Napi::CallbackInfo& info) {
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0) return Fail(info.Env(), errno, "timerfd_create");
  return Napi::Number::New(info.Env(), fd);
}

// timerfdSet(fd, deadlineNs): one-shot at an absolute CLOCK_MONOTONIC time in nanoseconds
// (the clock of process.hrtime); 0 disarms.
Napi::Value TimerFdSet(const Napi::CallbackInfo& info) {
  if (!ArgInts(info, 1) || !info[1].IsBigInt()) return Fail(info.Env(), EINVAL, "timerfd_settime");
  bool lossless = true;
  uint64_t ns = info[1].As<Napi::BigInt>().Uint64Value(&lossless);
  itimerspec its{};
  its.it_value.tv_sec = static_cast<time_t>(ns / 1000000000ULL);
  its.it_value.tv_nsec = static_cast<long>(ns % 1000000000ULL);
  if (timerfd_settime(Int(info, 0), TFD_TIMER_ABSTIME, &its, nullptr) < 0) return Fail(info.Env(), errno, "timerfd_settime");
  return info.Env().Undefined();
}

// mkfifo(path, mode): a FIFO special file (the notify FIFO); the process umask applies to
// mode, as for any file; errno as code (EEXIST when something is at path).
Napi::Value MkFifo(const Napi::CallbackInfo& info) {
  if (!info[0].IsString() || !info[1].IsNumber()) return Fail(info.Env(), EINVAL, "mkfifo");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  if (mkfifo(path.c_str(), static_cast<mode_t>(Int(info, 1))) < 0) return Fail(info.Env(), errno, "mkfifo");
  return info.Env().Undefined();
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  if (!ArgInts(info, 1)) return info.Env().Undefined();
  if (close(Int(info, 0)) < 0) return Fail(info.Env(), errno, "close");
  return info.Env().Undefined();
}

// What both readers share: a uv_poll on the environment's loop for one descriptor, the
// error callback, and stop(). T is the reader (CRTP, as ObjectWrap wants), with OnReadable.
template <typename T>
class Poller : public Napi::ObjectWrap<T> {
 public:
  explicit Poller(const Napi::CallbackInfo& info) : Napi::ObjectWrap<T>(info) {}

 protected:
  // Starts polling; on failure throws and returns false.
  bool StartPolling(Napi::Env env, int fd, Napi::Function on_error) {
    fd_ = fd;
    on_error_ = Napi::Persistent(on_error);
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    poll_ = new uv_poll_t;
    int rc = uv_poll_init(loop, poll_, fd_);
    if (rc == 0) {
      poll_->data = this;
      rc = uv_poll_start(poll_, UV_READABLE, &Poller<T>::OnPoll);
    }
    if (rc != 0) {
      delete poll_;
      poll_ = nullptr;
      Fail(env, -rc, "uv_poll_start");
      return false;
    }
    this->Ref();  // alive while polling, even if JS drops its reference
    return true;
  }

  static void OnPoll(uv_poll_t* h, int status, int) {
    auto* self = static_cast<T*>(static_cast<Poller<T>*>(h->data));
    Napi::HandleScope scope(self->Env());
    if (status == UV_EBADF) {
      // libuv reports POLLERR as EBADF and stops the handle. On a socket it is a pending
      // error, e.g. ENOBUFS on netlink when the kernel dropped messages for a full queue:
      // reading SO_ERROR clears it, the socket still works, so poll again and report it.
      int soerr = 0;
      socklen_t len = sizeof soerr;
      if (getsockopt(self->fd_, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr != 0 && uv_poll_start(h, UV_READABLE, &Poller<T>::OnPoll) == 0) {
        self->Error(soerr, "recvmsg");
        return;
      }
    }
    if (status < 0) self->Error(-status, "poll");
    else self->OnReadable();
  }

  void Error(int err, const char* syscall) {
    Napi::Env env = this->Env();
    Napi::Error e = Napi::Error::New(env, std::string(syscall) + " failed: " + strerror(err));
    e.Set("errno", Napi::Number::New(env, err));
    e.Set("code", Napi::String::New(env, uv_err_name(-err)));
    e.Set("syscall", Napi::String::New(env, syscall));
    on_error_.MakeCallback(this->Value(), {e.Value()});
  }

 public:
  // stop(): stop polling (the fd stays open; close it separately).
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    StopPolling();
    return info.Env().Undefined();
  }

 protected:
  void StopPolling() {
    if (poll_ != nullptr) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
      this->Unref();
    }
  }

 protected:
  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference on_error_;
};

// A readable watcher: calls onDatagram(data, srcAddr, control, flags, rxMonotonicNs) for every
// datagram, reading until EAGAIN on each wake-up; onError(err) on a receive error.
class Watcher : public Poller<Watcher> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Watcher", {InstanceMethod("stop", &Watcher::Stop)});
  }

  // new Watcher(fd, maxDatagram, onDatagram, onError[, useRead]): useRead for non-sockets (timerfd)
  explicit Watcher(const Napi::CallbackInfo& info) : Poller<Watcher>(info) {
    Napi::Env env = info.Env();
    if (!ArgInts(info, 2) || !info[2].IsFunction() || !info[3].IsFunction()) {
      Napi::TypeError::New(env, "Watcher(fd, maxDatagram, onDatagram, onError)").ThrowAsJavaScriptException();
      return;
    }
    use_read_ = info.Length() > 4 && info[4].ToBoolean().Value();
    data_.resize(static_cast<size_t>(Int(info, 1)));
    control_.resize(512);
    on_datagram_ = Napi::Persistent(info[2].As<Napi::Function>());
    StartPolling(env, Int(info, 0), info[3].As<Napi::Function>());
  }

  void OnReadable() {
    Napi::Env env = Env();
    for (int i = 0; i < 256 && poll_ != nullptr; i++) {  // bounded: never starve the loop
      sockaddr_storage src;
      iovec iov{data_.data(), data_.size()};
      msghdr msg{};
      msg.msg_name = &src;
      msg.msg_namelen = sizeof src;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control_.data();
      msg.msg_controllen = control_.size();
      ssize_t n = use_read_ ? read(fd_, data_.data(), data_.size()) : recvmsg(fd_, &msg, MSG_DONTWAIT);
      if (use_read_) {
        msg.msg_namelen = 0;
        msg.msg_controllen = 0;
      }
      if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) Error(errno, "recvmsg");
        return;
      }
      // receive time on CLOCK_MONOTONIC (ns), taken before any JavaScript runs for it
      double rx_ns = static_cast<double>(uv_hrtime());
      auto data = Napi::Buffer<uint8_t>::Copy(env, data_.data(), static_cast<size_t>(n));
      auto from = Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t*>(&src), msg.msg_namelen);
      auto ctrl = Napi::Buffer<uint8_t>::Copy(env, control_.data(), msg.msg_controllen);
      on_datagram_.MakeCallback(Value(), {data, from, ctrl, Napi::Number::New(env, msg.msg_flags), Napi::Number::New(env, rx_ns)});
    }
  }

 private:
  bool use_read_ = false;
  std::vector<uint8_t> data_;
  std::vector<uint8_t> control_;
  Napi::FunctionReference on_datagram_;
};

// new ReadyWatcher(fd, onReady, onError): calls onReady() once when fd becomes readable (a
// pidfd: the process exited), then stops.
class ReadyWatcher : public Poller<ReadyWatcher> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "ReadyWatcher", {InstanceMethod("stop", &ReadyWatcher::Stop)});
  }
  explicit ReadyWatcher(const Napi::CallbackInfo& info) : Poller<ReadyWatcher>(info) {
    Napi::Env env = info.Env();
    if (!ArgInts(info, 1) || !info[1].IsFunction() || !info[2].IsFunction()) {
      Napi::TypeError::New(env, "ReadyWatcher(fd, onReady, onError)").ThrowAsJavaScriptException();
      return;
    }
    on_ready_ = Napi::Persistent(info[1].As<Napi::Function>());
    StartPolling(env, Int(info, 0), info[2].As<Napi::Function>());
  }
  void OnReadable() {
    // Stop watching before JavaScript runs: the callback closes the fd, and what runs after it
    // in the same MakeCallback (microtasks, next ticks) may open another under the same
    // number, whose watch a later stop would remove (its events lost, libuv's slot EEXIST).
    // The extra reference keeps this object alive through the callback.
    this->Ref();
    StopPolling();
    on_ready_.MakeCallback(Value(), {});
    this->Unref();
  }

 private:
  Napi::FunctionReference on_ready_;
};

// new BatchWatcher(fd, slab, dataMax, meta, onBatch, onError): datagrams are read with
// recvmmsg straight into `slab` (a Buffer holding slots of dataMax + 128 + 512 bytes: data,
// source sockaddr, control messages) and described in `meta` (a Float64Array, 4 numbers per
// slot: length, sockaddr length, control length, flags). onBatch(count, read time in
// CLOCK_MONOTONIC ns, realtime - monotonic ns) runs once per batch; JavaScript reads the
// slots before returning. Nothing is allocated per datagram.
class BatchWatcher : public Poller<BatchWatcher> {
 public:
  static constexpr size_t kFrom = 128;
  static constexpr size_t kCtrl = 512;
  static constexpr size_t kMeta = 4;
  static constexpr size_t kMaxSlots = 64;

  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "BatchWatcher", {InstanceMethod("stop", &BatchWatcher::Stop), InstanceMethod("drain", &BatchWatcher::Drain)});
  }

  explicit BatchWatcher(const Napi::CallbackInfo& info) : Poller<BatchWatcher>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsNumber() || !info[1].IsBuffer() || !info[2].IsNumber() || !info[3].IsTypedArray() || !info[4].IsFunction() || !info[5].IsFunction()) {
      Napi::TypeError::New(env, "BatchWatcher(fd, slab, dataMax, meta, onBatch, onError)").ThrowAsJavaScriptException();
      return;
    }
    auto slab = info[1].As<Napi::Buffer<uint8_t>>();
    auto meta = info[3].As<Napi::TypedArray>();
    size_t data_max = static_cast<size_t>(Int(info, 2));
    size_t stride = data_max + kFrom + kCtrl;
    if (data_max == 0 || meta.TypedArrayType() != napi_float64_array) {
      Napi::TypeError::New(env, "BatchWatcher: dataMax > 0 and a Float64Array meta").ThrowAsJavaScriptException();
      return;
    }
    slots_ = std::min(kMaxSlots, std::min(slab.Length() / stride, meta.ElementLength() / kMeta));
    if (slots_ == 0) {
      Napi::RangeError::New(env, "BatchWatcher: slab or meta too small for one slot").ThrowAsJavaScriptException();
      return;
    }
    slab_ref_ = Napi::Persistent(info[1].As<Napi::Object>());
    meta_ref_ = Napi::Persistent(info[3].As<Napi::Object>());
    meta_ = reinterpret_cast<double*>(static_cast<uint8_t*>(meta.ArrayBuffer().Data()) + meta.ByteOffset());
    iov_.resize(slots_);
    msgs_.resize(slots_);
    for (size_t i = 0; i < slots_; i++) {
      uint8_t* base = slab.Data() + i * stride;
      iov_[i] = iovec{base, data_max};
      msgs_[i].msg_hdr.msg_name = base + data_max;
      msgs_[i].msg_hdr.msg_iov = &iov_[i];
      msgs_[i].msg_hdr.msg_iovlen = 1;
      msgs_[i].msg_hdr.msg_control = base + data_max + kFrom;
    }
    on_batch_ = Napi::Persistent(info[4].As<Napi::Function>());
    StartPolling(env, Int(info, 0), info[5].As<Napi::Function>());
  }

  // From the loop: at most 8 batches, so that one busy socket cannot starve the others.
  void OnReadable() { Read(8, false); }

  // drain(): read everything queued now, from JavaScript (the daemon does it before its
  // timers decide that a master is down: an advert that arrived in time must count even if
  // the loop had not got round to it). Bounded at 1024 batches.
  Napi::Value Drain(const Napi::CallbackInfo& info) {
    Read(1024, true);
    return info.Env().Undefined();
  }

 private:
  void Read(int max_rounds, bool from_js) {
    Napi::Env env = Env();
    for (int round = 0; round < max_rounds && poll_ != nullptr; round++) {
      for (size_t i = 0; i < slots_; i++) {
        msghdr& h = msgs_[i].msg_hdr;
        h.msg_namelen = kFrom;
        h.msg_controllen = kCtrl;
        h.msg_flags = 0;
      }
      int n = recvmmsg(fd_, msgs_.data(), static_cast<unsigned>(slots_), MSG_DONTWAIT, nullptr);
      if (n <= 0) {
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) Error(errno, "recvmmsg");
        return;
      }
      double rx_ns = static_cast<double>(uv_hrtime());  // before any JavaScript runs for them
      // CLOCK_REALTIME - CLOCK_MONOTONIC now: maps kernel receive timestamps (SO_TIMESTAMPNS,
      // realtime) onto the monotonic clock the daemon's timers use.
      timespec rt{}, mt{};
      clock_gettime(CLOCK_REALTIME, &rt);
      clock_gettime(CLOCK_MONOTONIC, &mt);
      double real_minus_mono = static_cast<double>((static_cast<int64_t>(rt.tv_sec) - mt.tv_sec) * 1000000000LL + (rt.tv_nsec - mt.tv_nsec));
      for (int i = 0; i < n; i++) {
        const msghdr& h = msgs_[i].msg_hdr;
        double* m = meta_ + i * kMeta;
        m[0] = msgs_[i].msg_len;
        m[1] = h.msg_namelen;
        m[2] = static_cast<double>(h.msg_controllen);
        m[3] = h.msg_flags;
      }
      std::initializer_list<napi_value> args{Napi::Number::New(env, n), Napi::Number::New(env, rx_ns), Napi::Number::New(env, real_minus_mono)};
      if (from_js) {
        on_batch_.Call(Value(), args);
        if (env.IsExceptionPending()) return;  // thrown on to the caller of drain()
      } else {
        on_batch_.MakeCallback(Value(), args);
      }
      if (static_cast<size_t>(n) < slots_) return;  // drained
    }
  }

  size_t slots_ = 0;
  double* meta_ = nullptr;
  std::vector<iovec> iov_;
  std::vector<mmsghdr> msgs_;
  Napi::ObjectReference slab_ref_;
  Napi::ObjectReference meta_ref_;
  Napi::FunctionReference on_batch_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("socket", Napi::Function::New(env, Socket));
  exports.Set("bind", Napi::Function::New(env, Bind));
  exports.Set("setsockopt", Napi::Function::New(env, SetSockOpt));
  exports.Set("getsockopt", Napi::Function::New(env, GetSockOpt));
  exports.Set("sendto", Napi::Function::New(env, SendTo));
  exports.Set("attachFilter", Napi::Function::New(env, AttachFilter));
  exports.Set("timerfd", Napi::Function::New(env, TimerFd));
  exports.Set("timerfdSet", Napi::Function::New(env, TimerFdSet));
  exports.Set("close", Napi::Function::New(env, Close));
  exports.Set("mkfifo", Napi::Function::New(env, MkFifo));
  exports.Set("Watcher", Watcher::Init(env));
  exports.Set("BatchWatcher", BatchWatcher::Init(env));
  exports.Set("ReadyWatcher", ReadyWatcher::Init(env));
  InitSpawn(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(vipd_fd, Init)
