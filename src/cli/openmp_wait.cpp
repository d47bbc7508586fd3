// The camkit command runs LibTorch's OpenMP threads with OMP_WAIT_POLICY=PASSIVE unless the
// caller set a policy: between two parallel regions an idle OpenMP thread then sleeps instead of
// spinning. The command's decode and render workers run beside inference; with spinning threads
// they compete with threads that do nothing, and on a busy machine a thread that spins while its
// team-mate is descheduled wastes whole time slices (docs/batch.md, "Threads").
//
// libgomp reads the variable once, when it is initialised, which is before main() and before
// anything a constructor of this program could set. The one earlier hook is the executable's
// .preinit_array, which runs after the libraries are loaded but before any of them is
// initialised; changes to the environment made there do not survive libc's own start, so the
// function re-executes the program once with the variable added (the loader's work, tens of
// milliseconds; no static initialiser has run yet). When that is not possible (no /proc), the
// program goes on with libgomp's default.
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace {

// Only C library calls here: libstdc++ is not initialised yet.
void passive_openmp(int /*argc*/, char** argv, char** envp) {
  static const char kPolicy[] = "OMP_WAIT_POLICY=";
  static char kPassive[] = "OMP_WAIT_POLICY=PASSIVE";
  size_t n = 0;
  for (; envp && envp[n]; ++n)
    if (std::strncmp(envp[n], kPolicy, sizeof kPolicy - 1) == 0) return;  // the caller's choice
  char** env = static_cast<char**>(std::malloc((n + 2) * sizeof(char*)));
  if (!env) return;
  if (n) std::memcpy(env, envp, n * sizeof(char*));
  env[n] = kPassive;
  env[n + 1] = nullptr;
  ::execve("/proc/self/exe", argv, env);
  std::free(env);  // execve returned: it failed; run as we are
}

}  // namespace

__attribute__((section(".preinit_array"),
               used)) static void (*const camkit_preinit)(int, char**, char**) = &passive_openmp;
