# Sourced by controller.sh and client.sh (bash, as root): install_node20 installs Node.js 20 as
# the README's prerequisites say. Debian 12's own `nodejs` is 18.x, too old; NodeSource's Debian
# repository has 20.x (its `nodejs` package replaces Debian's and ships npm and the headers
# node-gyp builds the native addon against). Idempotent: nothing happens when node is v20.x.

install_node20() {
  if command -v node >/dev/null 2>&1 && [[ $(node --version) == v20.* ]]; then
    return 0
  fi
  apt-get install -y -qq --no-install-recommends ca-certificates curl gnupg >/dev/null
  install -d -m 0755 /etc/apt/keyrings
  curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key \
    | gpg --dearmor --yes -o /etc/apt/keyrings/nodesource.gpg
  echo "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_20.x nodistro main" \
    > /etc/apt/sources.list.d/nodesource.list
  # NodeSource's 20.x outranks Debian's 18.x by version; the pin keeps it so if Debian's grows
  printf 'Package: nodejs\nPin: origin deb.nodesource.com\nPin-Priority: 600\n' > /etc/apt/preferences.d/nodesource
  apt-get update -qq
  apt-get install -y -qq nodejs >/dev/null
  local v
  v=$(node --version 2>&1) || true
  if [[ $v != v20.* ]]; then
    echo "install_node20: after installing NodeSource's nodejs, node --version gives '$v', not v20.x" >&2
    exit 1
  fi
}
