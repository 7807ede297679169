// Shared by the native layer's files: errors as JavaScript sees them.
#pragma once
#include <napi.h>
#include <uv.h>

#include <string.h>

#include <string>

// Throw Error("SYSCALL failed: MESSAGE (CODE)") with errno, code and syscall set; returns undefined.
inline Napi::Value Fail(Napi::Env env, int err, const char* syscall) {
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + " failed: " + strerror(err) + " (" + uv_err_name(-err) + ")");
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", Napi::String::New(env, uv_err_name(-err)));
  e.Set("syscall", Napi::String::New(env, syscall));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}
