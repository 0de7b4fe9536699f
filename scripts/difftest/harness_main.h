/* Runs every case of the batch in a forked child: fresh state, corpus conventions. A child
   that crashes, or runs for more than 10 seconds, is reported as CRASH: after an error, DynASM's
   dasm_put returns with its label chains already pointing at the positions of the failed put,
   which the next put reuses, so a later label definition can walk a cycle forever. */
#define NCASES ((int)(sizeof(cases)/sizeof(cases[0])))
static void run_case(int i, unsigned char *base) {
  dasm_State *state; dasm_State **Dst = &state;
  static void *gl[256];
  dasm_init(Dst, NSECTIONS);
  dasm_setupglobal(Dst, gl, 256);
  for (int g = 0; g < 256; g++) gl[g] = (void *)(uintptr_t)(0x10200000u + 0x100u * g);
  dasm_setup(Dst, actions);
  dasm_growpc(Dst, 16);
  logf_ = stdout;
  printf("%d\t", cases[i].id);
  cases[i].f(Dst);
  size_t sz = 0;
  int st = dasm_checkstep(Dst, -1);
  const char *stage = "checkstep";
  if (st == 0) { st = dasm_link(Dst, &sz); stage = "link"; }
  if (st == 0) { st = sz > (1u << 20) ? -1 : dasm_encode(Dst, base); stage = "encode"; }
  printf("\t%08x\t%s\t", (unsigned)st, st ? stage : "ok");
  if (st == 0) for (size_t k = 0; k < sz; k++) printf("%02x", base[k]);
  printf("\n");
  fflush(stdout);
}
int main(int argc, char **argv) {
  unsigned char *base = mmap((void *)0x10000000, 1 << 20, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (base != (void *)0x10000000) { perror("mmap"); return 2; }
  printf("ACTIONS\t");
  for (size_t k = 0; k < sizeof(actions); k++) printf("%02x", actions[k]);
  printf("\n");
  fflush(stdout);
  for (int i = 0; i < NCASES; i++) {
    pid_t p = fork();
    if (p == 0) { alarm(10); run_case(i, base); _exit(0); }
    int ws = 0; waitpid(p, &ws, 0);
    if (!WIFEXITED(ws)) { printf("%d\tCRASH\t%d\n", cases[i].id, WTERMSIG(ws)); fflush(stdout); }
  }
  return 0;
}
