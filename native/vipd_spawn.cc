// vipd native layer, process creation: posix_spawn of scripts on a libuv pool thread, and
// reaping them through a pidfd. The pidfd itself is watched by ReadyWatcher (vipd_fd.cc).
#include "vipd_common.h"
#include "vipd_spawn.h"

#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace {

// spawnAsync(file, argv: string[], envp: string[], cwd, callback(err, [pid, pidfd, outFd])):
// posix_spawn on a libuv pool thread. posix_spawn (glibc: clone with CLONE_VM|CLONE_VFORK, no
// copy of the page tables) holds the calling thread until the child has exec'd: about 3 ms
// a script here, much more under load; uv_spawn forks the whole daemon and holds the event
// loop longer still. Off the loop's thread, neither delays an advert. The child: its own
// session and process group (setsid), stdin /dev/null, stdout and stderr into one pipe
// (outFd, the read end, non-blocking, close-on-exec), working directory `cwd`, an empty
// signal mask and default dispositions (Node ignores SIGPIPE). `file` without '/' is
// searched in vipd's PATH (posix_spawnp). pidfd (pidfd_open) becomes readable when the child
// exits; reap(pidfd) collects its status. Exec failures (ENOENT, EACCES, ENOEXEC) come as
// the callback's error, errno and code set.
class SpawnWorker : public Napi::AsyncWorker {
 public:
  SpawnWorker(Napi::Function cb, std::string file, std::vector<std::string> args, std::vector<std::string> envs, std::string cwd)
      : Napi::AsyncWorker(cb, "vipd.spawn"), file_(std::move(file)), args_(std::move(args)), envs_(std::move(envs)), cwd_(std::move(cwd)) {}

  void Execute() override {
    std::vector<char*> argv, envp;
    for (auto& a : args_) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : envs_) envp.push_back(e.data());
    envp.push_back(nullptr);
    int out[2];
    if (pipe2(out, O_CLOEXEC) < 0) {
      Set(errno, "pipe2");
      return;
    }
    fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    posix_spawn_file_actions_addchdir_np(&fa, cwd_.c_str());
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    int rc = file_.find('/') == std::string::npos ? posix_spawnp(&pid, file_.c_str(), &fa, &at, argv.data(), envp.data())
                                                  : posix_spawn(&pid, file_.c_str(), &fa, &at, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(out[1]);
    if (rc != 0) {
      close(out[0]);
      Set(rc, "posix_spawn");
      return;
    }
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) {
      int err = errno;
      kill(-pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      close(out[0]);
      Set(err, "pidfd_open");
      return;
    }
    pid_ = pid;
    pidfd_ = pidfd;
    out_ = out[0];
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_ != 0) {
      Napi::Error e = Napi::Error::New(env, std::string(syscall_) + " failed: " + strerror(err_) + " (" + uv_err_name(-err_) + ")");
      e.Set("errno", Napi::Number::New(env, err_));
      e.Set("code", Napi::String::New(env, uv_err_name(-err_)));
      e.Set("syscall", Napi::String::New(env, syscall_));
      Callback().Call({e.Value()});
      return;
    }
    Napi::Array r = Napi::Array::New(env, 3);
    r.Set(0u, Napi::Number::New(env, pid_));
    r.Set(1u, Napi::Number::New(env, pidfd_));
    r.Set(2u, Napi::Number::New(env, out_));
    Callback().Call({env.Null(), r});
  }

 private:
  void Set(int err, const char* syscall) {
    err_ = err;
    syscall_ = syscall;
  }
  std::string file_;
  std::vector<std::string> args_, envs_;
  std::string cwd_;
  int err_ = 0;
  const char* syscall_ = "";
  int pid_ = -1, pidfd_ = -1, out_ = -1;
};

Napi::Value SpawnAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsArray() || !info[2].IsArray() || !info[3].IsString() || !info[4].IsFunction()) return Fail(env, EINVAL, "spawn");
  auto list = [](Napi::Array a) {
    std::vector<std::string> v;
    for (uint32_t i = 0; i < a.Length(); i++) v.push_back(a.Get(i).ToString().Utf8Value());
    return v;
  };
  auto* w = new SpawnWorker(info[4].As<Napi::Function>(), info[0].As<Napi::String>().Utf8Value(), list(info[1].As<Napi::Array>()),
                            list(info[2].As<Napi::Array>()), info[3].As<Napi::String>().Utf8Value());
  w->Queue();
  return env.Undefined();
}

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

// reap(pidfd) -> null while the child runs, else [exitCode | -1, signal | 0] (the child is reaped).
Napi::Value Reap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) return Fail(env, EINVAL, "waitid");
  siginfo_t si{};
  if (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(info[0].As<Napi::Number>().Int32Value()), &si, WEXITED | WNOHANG) < 0) return Fail(env, errno, "waitid");
  if (si.si_pid == 0) return env.Null();
  Napi::Array r = Napi::Array::New(env, 2);
  bool exited = si.si_code == CLD_EXITED;
  r.Set(0u, Napi::Number::New(env, exited ? si.si_status : -1));
  r.Set(1u, Napi::Number::New(env, exited ? 0 : si.si_status));
  return r;
}

}  // namespace

void InitSpawn(Napi::Env env, Napi::Object exports) {
  exports.Set("spawn", Napi::Function::New(env, SpawnAsync));
  exports.Set("reap", Napi::Function::New(env, Reap));
}
