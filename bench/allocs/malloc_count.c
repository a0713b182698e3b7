/* An LD_PRELOAD shim for bench/allocs.sh: counts malloc/calloc/realloc calls of the process
 * (all threads) and prints the totals to stderr on SIGUSR2. Built by allocs.sh, never linked
 * into mcbridge. */
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);

static atomic_long mallocs, callocs, reallocs;

void *malloc(size_t size) {
  atomic_fetch_add_explicit(&mallocs, 1, memory_order_relaxed);
  return __libc_malloc(size);
}
void *calloc(size_t n, size_t size) {
  atomic_fetch_add_explicit(&callocs, 1, memory_order_relaxed);
  return __libc_calloc(n, size);
}
void *realloc(void *p, size_t size) {
  atomic_fetch_add_explicit(&reallocs, 1, memory_order_relaxed);
  return __libc_realloc(p, size);
}

static void report(int sig) {
  (void)sig;
  char line[128];
  int n = snprintf(line, sizeof line, "allocations %ld\n",
                   atomic_load(&mallocs) + atomic_load(&callocs) + atomic_load(&reallocs));
  if (n > 0) (void)!write(2, line, (size_t)n);
}

__attribute__((constructor)) static void install(void) { signal(SIGUSR2, report); }
