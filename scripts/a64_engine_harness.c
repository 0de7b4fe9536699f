/* Oracle harness for scripts/a64_engine_vectors.py: runs the cases it writes through the real
 * DynASM arm64 engine. Build it OUTSIDE the repository against LuaJIT's headers (LuaJIT commit
 * 1ee778a4e37122d8ca7d5733c590a47dafd6b15c, dasm_arm64.h sha256 6696c2fa2f820836...):
 *   mkdir -p /work/oracle/a64eng && cd /work/oracle/a64eng
 *   git -C LUAJIT show HEAD:dynasm/dasm_arm64.h > dasm_arm64.h
 *   git -C LUAJIT show HEAD:dynasm/dasm_proto.h > dasm_proto.h
 *   gcc -O1 -fwrapv -I. -o harness REPO/scripts/a64_engine_harness.c
 *   python3 REPO/scripts/a64_engine_vectors.py ./harness > REPO/testdata/corpus/a64/engine_diff.jsonl
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#include <sys/wait.h>
#define DASM_CHECKS 1
#define BASE 0x40000000UL
static char extlog[4096]; static int extlen;
static unsigned char *gbuf;
static int ext_cb(unsigned char *addr, int idx, int type) {
  extlen += snprintf(extlog+extlen, sizeof(extlog)-extlen, " %ld:%d:%d", (long)(addr-gbuf), idx, type);
  return 0x100*(idx+1);
}
#define DASM_EXTERN(ctx, addr, idx, type) ext_cb((addr), (idx), (type))
#include "dasm_proto.h"
#include "dasm_arm64.h"

static unsigned int acts[65536]; static int nacts;
static int puts_start[4096], puts_n[4096], puts_args[4096][40]; static int nputs;

static void run(const char *id, int maxsec, int npc, int nglob) {
  dasm_State *d; void *globals[64]; int i, first = 0; size_t size = 0; int st;
  for (i = 0; i < 64; i++) globals[i] = (void *)(BASE + 0x10000 + 0x100*i);
  dasm_init(&d, maxsec); dasm_setupglobal(&d, globals, nglob); dasm_setup(&d, acts); dasm_growpc(&d, npc);
  for (i = 0; i < nputs; i++) {
    int *a = puts_args[i];
    dasm_put(&d, puts_start[i], a[0],a[1],a[2],a[3],a[4],a[5],a[6],a[7],a[8],a[9],a[10],a[11],a[12],a[13],a[14],a[15],
      a[16],a[17],a[18],a[19],a[20],a[21],a[22],a[23],a[24],a[25],a[26],a[27],a[28],a[29],a[30],a[31],a[32],a[33],a[34],a[35],a[36],a[37],a[38],a[39]);
    if (d->status) { first = d->status; break; } /* DynASM goes on with broken chains: stop */
  }
  st = dasm_checkstep(&d, -1);
  if (!st) st = dasm_link(&d, &size);
  extlen = 0; extlog[0] = 0;
  printf("%s first=%08x", id, first);
  if (!st) {
    gbuf = mmap((void *)BASE, size ? size : 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE, -1, 0);
    if (gbuf != (void *)BASE) { printf(" MMAPFAIL\n"); exit(1); }
    st = dasm_encode(&d, gbuf);
    printf(" status=%08x code=", st);
    if (!st) for (i = 0; i < (int)size/4; i++) printf("%s%08x", i ? "," : "", ((unsigned int *)gbuf)[i]);
    printf(" ext=%s", extlog);
    printf(" globals=");
    for (i = 0; i < nglob; i++) printf("%s%lx", i ? "," : "", (unsigned long)globals[i]);
    printf(" pcs=");
    for (i = 0; i < npc; i++) printf("%s%d", i ? "," : "", dasm_getpclabel(&d, i));
  } else printf(" status=%08x code= ext= globals= pcs=", st);
  printf("\n");
}

int main(void) {
  char line[1<<20], id[64]; int maxsec = 1, npc = 0, nglob = 0;
  while (fgets(line, sizeof line, stdin)) {
    char *p = line, *e;
    if (!strncmp(line, "CASE ", 5)) { sscanf(line+5, "%63s %d %d %d", id, &maxsec, &npc, &nglob); nacts = 0; nputs = 0; }
    else if (!strncmp(line, "ACTS", 4)) { p += 4; for (;;) { unsigned long v = strtoul(p, &e, 16); if (e == p) break; acts[nacts++] = (unsigned int)v; p = e; } }
    else if (!strncmp(line, "PUT", 3)) { int k = 0; p += 3; puts_start[nputs] = strtol(p, &e, 10); p = e;
      memset(puts_args[nputs], 0, sizeof puts_args[0]);
      for (;;) { long v = strtol(p, &e, 10); if (e == p) break; puts_args[nputs][k++] = (int)v; p = e; }
      puts_n[nputs++] = k; }
    else if (!strncmp(line, "END", 3)) {
      pid_t pid; fflush(stdout); pid = fork();
      if (pid == 0) { run(id, maxsec, npc, nglob); fflush(stdout); _exit(0); }
      else { int ws; waitpid(pid, &ws, 0); if (!WIFEXITED(ws) || WEXITSTATUS(ws)) printf("%s CRASH\n", id); }
    }
  }
  return 0;
}
