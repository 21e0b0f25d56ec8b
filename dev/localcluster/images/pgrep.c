/* pgrep / pkill for the busybox image (Debian's busybox-static has neither applet, the
 * upstream busybox image has both). KubernetesPodOperator stops its XCom sidecar with
 * `kill -2 $(pgrep -u $(id -u) -f 'sh')`, so the sidecar image needs a pgrep.
 *
 * Supported: pgrep|pkill [-SIGNAL (pkill)] [-f] [-x] [-l (pgrep)] [-u USER[,USER...]] PATTERN
 * PATTERN is an extended regular expression matched against the process name (comm) or, with
 * -f, the full command line. Exit status 0 when something matched, 1 when nothing did, 2 on a
 * usage error -- like procps. Built with `gcc -static` by build-images.sh. */
#include <ctype.h>
#include <dirent.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_UIDS 32

static int uids[MAX_UIDS], n_uids;

static int usage(const char *prog) {
  fprintf(stderr, "usage: %s [-f] [-x] [-l] [-u USER[,USER]] PATTERN\n", prog);
  return 2;
}

/* A user name from the image's /etc/passwd, or a number. */
static int parse_user(const char *s) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s && !*end) return (int)v;
  FILE *f = fopen("/etc/passwd", "r");
  char line[512];
  size_t len = strlen(s);
  while (f && fgets(line, sizeof line, f)) {
    if (strncmp(line, s, len) == 0 && line[len] == ':') {
      char *p = strchr(line + len + 1, ':'); /* after the password field */
      fclose(f);
      return p ? atoi(p + 1) : -1;
    }
  }
  if (f) fclose(f);
  return -1;
}

static int read_file(const char *path, char *buf, size_t size) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, size - 1, f);
  fclose(f);
  buf[n] = '\0';
  return (int)n;
}

static int proc_uid(const char *pid) {
  char path[300], buf[4096];
  snprintf(path, sizeof path, "/proc/%s/status", pid);
  if (read_file(path, buf, sizeof buf) < 0) return -1;
  char *p = strstr(buf, "\nUid:");
  return p ? atoi(p + 5) : -1;
}

/* The name (comm) or, for -f, the command line with NULs turned into spaces. */
static int proc_text(const char *pid, int full, char *buf, size_t size) {
  char path[300];
  snprintf(path, sizeof path, "/proc/%s/%s", pid, full ? "cmdline" : "comm");
  int n = read_file(path, buf, size);
  if (n <= 0) return -1;
  for (int i = 0; i < n; i++)
    if (buf[i] == '\0') buf[i] = ' ';
  while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\n')) buf[--n] = '\0';
  return n;
}

int main(int argc, char **argv) {
  const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
  int kill_mode = strcmp(prog, "pkill") == 0;
  int full = 0, exact = 0, list = 0, sig = SIGTERM;

  int i = 1;
  for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
    const char *a = argv[i] + 1;
    if (kill_mode && isdigit((unsigned char)a[0])) { sig = atoi(a); continue; }
    for (; *a; a++) {
      if (*a == 'f') full = 1;
      else if (*a == 'x') exact = 1;
      else if (*a == 'l' && !kill_mode) list = 1;
      else if (*a == 'u') {
        const char *val = a[1] ? a + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) return usage(prog);
        char copy[256];
        snprintf(copy, sizeof copy, "%s", val);
        for (char *tok = strtok(copy, ","); tok && n_uids < MAX_UIDS; tok = strtok(NULL, ","))
          uids[n_uids++] = parse_user(tok);
        break;
      } else return usage(prog);
    }
  }
  if (i != argc - 1) return usage(prog);

  char pattern[1024];
  snprintf(pattern, sizeof pattern, exact ? "^(%s)$" : "%s", argv[i]);
  regex_t re;
  if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0) return usage(prog);

  DIR *proc = opendir("/proc");
  if (!proc) { perror("/proc"); return 3; }
  char self[32], text[8192];
  snprintf(self, sizeof self, "%d", (int)getpid());
  int matched = 0;
  for (struct dirent *e; (e = readdir(proc));) {
    if (!isdigit((unsigned char)e->d_name[0]) || strcmp(e->d_name, self) == 0) continue;
    if (n_uids) {
      int uid = proc_uid(e->d_name), ok = 0;
      for (int k = 0; k < n_uids; k++) ok |= uids[k] == uid;
      if (!ok) continue;
    }
    if (proc_text(e->d_name, full, text, sizeof text) < 0) continue;
    if (regexec(&re, text, 0, NULL, 0) != 0) continue;
    matched = 1;
    if (kill_mode) kill(atoi(e->d_name), sig);
    else if (list) printf("%s %s\n", e->d_name, text);
    else printf("%s\n", e->d_name);
  }
  closedir(proc);
  regfree(&re);
  return matched ? 0 : 1;
}
