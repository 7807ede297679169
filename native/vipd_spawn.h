// Process creation for vipd's scripts (vipd_spawn.cc): spawn and reap on the exports.
#pragma once
#include <napi.h>

void InitSpawn(Napi::Env env, Napi::Object exports);
