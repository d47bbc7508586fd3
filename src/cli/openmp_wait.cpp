// The camkit command runs LibTorch's OpenMP threads with OMP_WAIT_POLICY=PASSIVE unless the
// caller set a policy: between two parallel regions an idle OpenMP thread then sleeps instead of
// spinning. The command's decode and render workers run beside inference; with spinning threads
// they compete with threads that do nothing, and on a busy machine a thread that spins while its
// team-mate is descheduled wastes whole time slices (docs/batch.md, "Threads").
//
// libgomp reads the variable once, in its constructor, which runs before main() and before any
// constructor of this program. The one earlier hook is the executable's .preinit_array, which
// runs after the libraries are loaded but before any of them is initialised. setenv() there
// does not last: libc's own initialisation makes `environ` the process's initial array again.
// That array itself can be changed in place, though: one entry that no library reads while it
// starts (the shell's "_", OLDPWD, SHLVL ...) lends its slot to OMP_WAIT_POLICY=PASSIVE while the
// libraries initialise, and this program's first constructor puts it back, so main() and child
// processes see the caller's environment unchanged. Without such an entry (an environment
// made with `env -i`) the program re-executes itself once with the variable added, which costs
// the dynamic loader's work a second time (about 0.2 s); without /proc it goes on with libgomp's
// default policy.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace {

char kPassive[] = "OMP_WAIT_POLICY=PASSIVE";

// The lent slot and the entry it held, put back by restore_slot().
char** lent_slot = nullptr;
char* lent_entry = nullptr;

bool starts_with(const char* s, const char* prefix) {
  return std::strncmp(s, prefix, std::strlen(prefix)) == 0;
}

// Variables of the shell's and the login's that no library reads while it initialises.
bool may_lend(const char* entry) {
  static const char* const kNames[] = {
      "_=",        "OLDPWD=", "SHLVL=",      "LS_COLORS=",      "HISTSIZE=", "HISTCONTROL=",
      "HISTFILE=", "MAIL=",   "SSH_CLIENT=", "SSH_CONNECTION=", "SSH_TTY="};
  for (const char* name : kNames)
    if (starts_with(entry, name)) return true;
  return false;
}

// Only C library calls here: libstdc++ is not initialised yet.
void passive_openmp(int /*argc*/, char** argv, char** envp) {
  if (!envp) return;
  size_t n = 0, lend = SIZE_MAX;
  for (; envp[n]; ++n) {
    if (starts_with(envp[n], "OMP_WAIT_POLICY=")) return;  // the caller's choice
    if (lend == SIZE_MAX && may_lend(envp[n])) lend = n;
  }
  if (lend != SIZE_MAX) {
    lent_slot = &envp[lend];
    lent_entry = envp[lend];
    envp[lend] = kPassive;
    return;
  }
  char** env = static_cast<char**>(std::malloc((n + 2) * sizeof(char*)));
  if (!env) return;
  if (n) std::memcpy(env, envp, n * sizeof(char*));
  env[n] = kPassive;
  env[n + 1] = nullptr;
  ::execve("/proc/self/exe", argv, env);
  std::free(env);  // execve returned: it failed; run as we are
}

// The first of this program's constructors: every library has been initialised by now.
__attribute__((constructor(101))) void restore_slot() {
  if (lent_slot) *lent_slot = lent_entry;
  lent_slot = nullptr;
}

}  // namespace

__attribute__((section(".preinit_array"),
               used)) static void (*const camkit_preinit)(int, char**, char**) = &passive_openmp;
