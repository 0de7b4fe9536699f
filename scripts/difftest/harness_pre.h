/* Oracle harness (outside the dasr repo): DynASM's engine with DASM_CHECKS and put logging. */
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#define DASM_CHECKS 1
static int ext_resolve(unsigned char *addr, int idx, int type) {
  uint64_t target = 0x10100000ull + 0x100ull * (unsigned)idx;
  if (type == 1) return (int)(target - ((uint64_t)(uintptr_t)addr + 4));
  return (int)(uint32_t)target;
}
#define DASM_EXTERN(ctx, addr, idx, type) ext_resolve((addr), (idx), (type))
#include "dasm_proto.h"
#include "dasm_x86.h"
static FILE *logf_;
static void log_put(int start, const int *a, int n) {
  fprintf(logf_, "%s%d:", "|", start);
  for (int i = 0; i < n; i++) fprintf(logf_, i ? ",%d" : "%d", a[i]);
}
#define dasm_put(D, start, ...) do { \
  int a_[] = {0, ##__VA_ARGS__}; \
  log_put((start), a_ + 1, (int)(sizeof(a_)/sizeof(int)) - 1); \
  (dasm_put)((D), (start), ##__VA_ARGS__); } while (0)
