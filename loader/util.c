// SPDX-License-Identifier: GPL-2.0
/* Parsing, paths under /run/qnat-bpf, sysctls and pid files. */
#include <arpa/inet.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <link.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qnat.h"

static const char *const timeout_names[QNAT_TO_MAX] = {
	[QNAT_TO_TCP_SYN_SENT] = "tcp_syn_sent",
	[QNAT_TO_TCP_SYN_RECV] = "tcp_syn_recv",
	[QNAT_TO_TCP_ESTABLISHED] = "tcp_established",
	[QNAT_TO_TCP_FIN_WAIT] = "tcp_fin_wait",
	[QNAT_TO_TCP_TIME_WAIT] = "tcp_time_wait",
	[QNAT_TO_TCP_CLOSE] = "tcp_close",
	[QNAT_TO_UDP] = "udp",
	[QNAT_TO_UDP_STREAM] = "udp_stream",
	[QNAT_TO_ICMP] = "icmp",
};

/* nf_conntrack's defaults (Documentation/networking/nf_conntrack-sysctl.rst). */
static const uint32_t timeout_defaults[QNAT_TO_MAX] = {
	[QNAT_TO_TCP_SYN_SENT] = 120,	  [QNAT_TO_TCP_SYN_RECV] = 60, [QNAT_TO_TCP_ESTABLISHED] = 432000,
	[QNAT_TO_TCP_FIN_WAIT] = 120,	  [QNAT_TO_TCP_TIME_WAIT] = 120, [QNAT_TO_TCP_CLOSE] = 10,
	[QNAT_TO_UDP] = 30,		  [QNAT_TO_UDP_STREAM] = 120,	 [QNAT_TO_ICMP] = 30,
};

const char *timeout_name(int i)
{
	return timeout_names[i];
}

uint32_t timeout_default(int i)
{
	return timeout_defaults[i];
}

int timeout_lookup(const char *name)
{
	for (int i = 0; i < QNAT_TO_MAX; i++)
		if (!strcmp(name, timeout_names[i]))
			return i;
	return -1;
}

in_addr_t prefix_mask(unsigned int prefix)
{
	return prefix ? htonl(~0U << (32 - prefix)) : 0;
}

int parse_ipv4(const char *s, struct in_addr *a)
{
	return inet_pton(AF_INET, s, a) == 1 ? 0 : -EINVAL;
}

/*
 * s copied into buf (len bytes) and cut at its first character out of seps:
 * returns what follows the cut, or NULL when s is too long or has none.
 */
char *split_at(const char *s, const char *seps, char *buf, size_t len)
{
	char *cut;

	if (strlen(s) >= len)
		return NULL;
	strcpy(buf, s);
	cut = strpbrk(buf, seps);
	if (!cut)
		return NULL;
	*cut = '\0';
	return cut + 1;
}

/* "192.168.122.0/24"; host bits must be clear, as `ip route` demands. */
int parse_cidr(const char *s, struct in_addr *net, unsigned int *prefix)
{
	char buf[INET_ADDRSTRLEN + 4], *len = split_at(s, "/", buf, sizeof(buf));
	uint32_t p;

	if (!len || parse_u32(len, 1, 30, &p) || parse_ipv4(buf, net) || (net->s_addr & ~prefix_mask(p)))
		return -EINVAL;
	*prefix = p;
	return 0;
}

/* "PREFIX/64", host bits zero: the guests' IPv6 network (SLAAC needs a /64). */
int parse_prefix6(const char *s, struct in6_addr *net)
{
	char buf[INET6_ADDRSTRLEN + 4], *len = split_at(s, "/", buf, sizeof(buf));
	static const uint8_t zero[8];

	if (!len || strcmp(len, "64") || inet_pton(AF_INET6, buf, net) != 1 || memcmp(net->s6_addr + 8, zero, 8))
		return -EINVAL;
	return 0;
}

int parse_ipv6(const char *s, struct in6_addr *a)
{
	return inet_pton(AF_INET6, s, a) == 1 ? 0 : -EINVAL;
}

/* Is a inside the /64 net? */
bool in_prefix6(const struct in6_addr *a, const struct in6_addr *net)
{
	return prefix_match(a, net, 64);
}

/* Do a and b (len bytes each, network order) agree in their first bits bits? */
bool prefix_match(const void *a, const void *b, unsigned int bits)
{
	const uint8_t *x = a, *y = b;
	unsigned int n = bits / 8;

	return !memcmp(x, y, n) && (bits % 8 == 0 || !((x[n] ^ y[n]) & (0xff00 >> bits % 8)));
}

/* Why net cannot be the guests' IPv6 /64 (NULL: it can). */
const char *prefix6_unusable(const struct in6_addr *net)
{
	const uint8_t *b = net->s6_addr;

	if (b[0] == 0xff)
		return "multicast (ff00::/8)";
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return "link-local (fe80::/10)";
	if (IN6_IS_ADDR_V4MAPPED(net) || !memcmp(b, (uint8_t[8]){ 0 }, 8))
		return "not a unicast network (::/64)";
	return NULL;
}

const char *ip6_str(const struct in6_addr *a)
{
	static char bufs[8][INET6_ADDRSTRLEN];
	static int next;
	char *b = bufs[next++ & 7];

	return inet_ntop(AF_INET6, a, b, INET6_ADDRSTRLEN);
}

/*
 * Why net/prefix cannot be the guests' network (NULL: it can): wider than
 * /8, or overlapping an address block that is never a LAN (RFC 6890).
 */
const char *subnet_unusable(struct in_addr net, unsigned int prefix)
{
	static const struct {
		uint32_t net;
		unsigned int prefix;
		const char *what;
	} blocks[] = {
		{ 0x00000000, 8, "0.0.0.0/8 (\"this network\")" },
		{ 0x7f000000, 8, "127.0.0.0/8 (loopback)" },
		{ 0xa9fe0000, 16, "169.254.0.0/16 (link-local)" },
		{ 0xe0000000, 4, "224.0.0.0/4 (multicast)" },
		{ 0xf0000000, 4, "240.0.0.0/4 (reserved, and the broadcast address)" },
	};
	static char why[96];

	if (prefix < 8)
		return "too wide (at most /8)";
	for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
		unsigned int p = prefix < blocks[i].prefix ? prefix : blocks[i].prefix;

		if ((ntohl(net.s_addr) & ntohl(prefix_mask(p))) == (blocks[i].net & ntohl(prefix_mask(p)))) {
			snprintf(why, sizeof(why), "overlaps %s", blocks[i].what);
			return why;
		}
	}
	return NULL;
}

int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long long v;
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int parse_port_range(const char *s, uint16_t *lo, uint16_t *hi)
{
	char buf[16], *last = split_at(s, "-", buf, sizeof(buf));
	uint32_t a, b;

	if (!last || parse_u32(buf, 1, 65535, &a) || parse_u32(last, 1, 65535, &b) || a > b)
		return -EINVAL;
	*lo = a;
	*hi = b;
	return 0;
}

/*
 * --host-allow: "all", or PROTO/PORT[-END] items (tcp, udp), comma-separated.
 * rules and all may be NULL to only check it.
 */
int host_allow_parse(const char *spec, struct qnat_host_allow *rules, int *n, bool *all)
{
	char buf[sizeof(((struct settings *)0)->host_allow)], *tok, *save;
	int count = 0;

	if (all)
		*all = false;
	if (strlen(spec) >= sizeof(buf) || !*spec)
		return -EINVAL;
	strcpy(buf, spec);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *slash = strchr(tok, '/'), range[16];
		struct qnat_host_allow a = { 0 };

		if (!strcmp(tok, "all")) {
			if (all)
				*all = true;
			continue;
		}
		if (!slash || count == QNAT_HOST_ALLOW_MAX)
			return -EINVAL;
		*slash = '\0';
		a.proto = !strcmp(tok, "tcp") ? IPPROTO_TCP : !strcmp(tok, "udp") ? IPPROTO_UDP : 0;
		snprintf(range, sizeof(range), strchr(slash + 1, '-') ? "%s" : "%s-%s", slash + 1, slash + 1);
		if (!a.proto || strlen(slash + 1) > 11 || parse_port_range(range, &a.first, &a.last))
			return -EINVAL;
		if (rules)
			rules[count] = a;
		count++;
	}
	if (n)
		*n = count;
	return 0;
}

/* A static buffer, rotating over 8: enough for every address one printf shows. */
const char *ip_str(struct in_addr a)
{
	static char bufs[8][INET_ADDRSTRLEN];
	static int next;
	char *b = bufs[next++ & 7];

	return inet_ntop(AF_INET, &a, b, INET_ADDRSTRLEN);
}

char *mac_str(const uint8_t mac[6], char buf[MAC_STR_LEN])
{
	snprintf(buf, MAC_STR_LEN, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

const char *ip_str_be(uint32_t be)
{
	struct in_addr a = { .s_addr = be };

	return ip_str(a);
}

/*
 * Each network namespace has its own directory: two namespaces with their own
 * virbr0 never share state.  /run is the same in every `ip netns exec`.
 */
int state_dir(const char *bridge, char *buf, size_t len)
{
	struct stat st;
	int n;

	if (stat("/proc/self/ns/net", &st))
		return -errno;
	n = snprintf(buf, len, "%s/ns%lu/%s", QNAT_RUN_DIR, (unsigned long)st.st_ino, bridge);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * What names this namespace across its lifetimes: "root" for the initial
 * one, "netns-NAME" for one `ip netns` named, else "nsINODE".  Inodes are
 * reused once a namespace dies, so only the last is a key for now, not
 * for what outlives it.
 */
static int netns_key(char *buf, size_t len)
{
	struct stat self, other;
	struct dirent *d;
	DIR *dir;

	if (stat("/proc/self/ns/net", &self))
		return -errno;
	if (!stat("/proc/1/ns/net", &other) && other.st_ino == self.st_ino && other.st_dev == self.st_dev)
		return snprintf(buf, len, "root") >= (int)len ? -ENAMETOOLONG : 0;
	dir = opendir("/run/netns");
	while (dir && (d = readdir(dir))) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "/run/netns/%s", d->d_name);
		if (d->d_name[0] != '.' && !stat(path, &other) && other.st_ino == self.st_ino &&
		    other.st_dev == self.st_dev) {
			int n = snprintf(buf, len, "netns-%s", d->d_name);

			closedir(dir);
			return n >= (int)len ? -ENAMETOOLONG : 0;
		}
	}
	if (dir)
		closedir(dir);
	return snprintf(buf, len, "ns%lu", (unsigned long)self.st_ino) >= (int)len ? -ENAMETOOLONG : 0;
}

/*
 * QNAT_LIB_DIR/NSKEY/BRIDGE/FILE: what outlives an attach (dnsmasq's
 * leases, the log when there is no syslog), across detach and reboot.
 */
int lib_path(const char *bridge, const char *file, char *buf, size_t len)
{
	char key[NAME_MAX + 8];
	int err = netns_key(key, sizeof(key)), n;

	if (err)
		return err;
	n = snprintf(buf, len, "%s/%s/%s/%s", QNAT_LIB_DIR, key, bridge, file);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Its directories: root's, 0700 (dnsmasq opens the file before it drops root). */
int lib_dir_make(const char *bridge)
{
	char path[PATH_MAX];
	int err = lib_path(bridge, "leases", path, sizeof(path));

	if (err)
		return err;
	/* the bridge's directory, the namespace's and the top: root's alone, whatever umask made them */
	for (int i = 0; i < 3; i++) {
		*strrchr(path, '/') = '\0';
		if ((i == 0 && (err = mkdir_p(path, 0700))) || chmod(path, 0700))
			return err ? err : -errno;
	}
	return 0;
}

int state_path(const char *bridge, const char *file, char *buf, size_t len)
{
	char dir[PATH_MAX];
	int err = state_dir(bridge, dir, sizeof(dir));
	int n;

	if (err)
		return err;
	n = snprintf(buf, len, "%s/%s", dir, file);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

/* The namespace's cookie: unlike its inode, never given to another namespace while the system runs. */
static int netns_cookie(uint64_t *cookie)
{
	socklen_t len = sizeof(*cookie);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len))
		err = -errno;
	close(fd);
	return err;
}

static int ns_cookie_path(char *buf, size_t len)
{
	return state_dir("netns-cookie", buf, len); /* beside the bridges' directories */
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void rm_tree(const char *path)
{
	nftw(path, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/*
 * Namespace inodes are handed out again as soon as a namespace dies, so
 * nsINODE may hold what a dead namespace left (its processes died with
 * it): a directory whose recorded cookie is not ours is removed.
 */
void state_ns_reclaim(void)
{
	char path[PATH_MAX];
	unsigned long long theirs;
	uint64_t ours;
	bool stale;
	FILE *f;

	if (ns_cookie_path(path, sizeof(path)) || netns_cookie(&ours) || !(f = fopen(path, "re")))
		return; /* no directory yet, or an older build's without a cookie: nothing to compare */
	stale = fscanf(f, "%llu", &theirs) == 1 && theirs != ours;
	fclose(f);
	if (stale) {
		*strrchr(path, '/') = '\0';
		rm_tree(path);
	}
}

/* The namespace's directory goes with its last bridge. */
void state_ns_release(void)
{
	char path[PATH_MAX];
	struct dirent *de;
	bool empty = true;
	DIR *d;

	if (ns_cookie_path(path, sizeof(path)))
		return;
	*strrchr(path, '/') = '\0';
	if (!(d = opendir(path)))
		return;
	while (empty && (de = readdir(d)))
		empty = de->d_name[0] == '.' || !strcmp(de->d_name, "netns-cookie");
	closedir(d);
	if (empty)
		rm_tree(path);
}

/* A bridge's state directory, whatever files it holds, and the namespace's with its last bridge. */
void state_remove(const char *bridge)
{
	char path[PATH_MAX];

	if (!state_dir(bridge, path, sizeof(path)))
		rm_tree(path);
	state_ns_release();
}

/* Which namespace made nsINODE, for state_ns_reclaim. */
static int ns_cookie_write(void)
{
	char path[PATH_MAX], buf[32];
	uint64_t ours;
	int err;

	if ((err = ns_cookie_path(path, sizeof(path))) || (err = netns_cookie(&ours)))
		return err;
	snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)ours);
	return write_file_atomic(path, buf, 0600);
}

/*
 * /run/qnat-bpf/nsINODE/BRIDGE: the two below the top are root's, 0710, so
 * that the group dnsmasq runs as may pass through to the hosts files it
 * re-reads after dropping root, and nobody else gets in.  The top, shared
 * by every namespace, may be passed through by all, listed by none.
 */
int state_dir_make(const char *bridge)
{
	char dir[PATH_MAX], *ns;
	gid_t gid = dnsmasq_gid();
	int err = state_dir(bridge, dir, sizeof(dir));

	if (err || (err = mkdir_p(dir, 0700)))
		return err;
	if (chmod(QNAT_RUN_DIR, 0711))
		return -errno;
	ns = strrchr(dir, '/');
	*ns = '\0';
	err = chown(dir, 0, gid) || chmod(dir, 0710) ? -errno : 0; /* older runs made these 0711 */
	*ns = '/';
	if (!err && !(err = chown(dir, 0, gid) || chmod(dir, 0710) ? -errno : 0))
		err = ns_cookie_write();
	return err;
}

/* Write to a temporary file and rename it over: readers never see half. */
int write_file_atomic(const char *path, const char *data, mode_t mode)
{
	return write_file_atomic_gid(path, data, mode, (gid_t)-1);
}

/* The same, the file given to group gid ((gid_t)-1: root's). */
int write_file_atomic_gid(const char *path, const char *data, mode_t mode, gid_t gid)
{
	char tmp[PATH_MAX];
	size_t len = strlen(data);
	int fd, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	if (fchown(fd, (uid_t)-1, gid) || fchmod(fd, mode)) /* the umask does not decide */
		err = -errno;
	else if (write(fd, data, len) != (ssize_t)len)
		err = errno ? -errno : -EIO;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int sysctl_read_int(const char *path)
{
	FILE *f = fopen(path, "re");
	int v;

	if (!f)
		return -errno;
	if (fscanf(f, "%d", &v) != 1)
		v = -EINVAL;
	fclose(f);
	return v;
}

int sysctl_write_int(const char *path, int val)
{
	FILE *f = fopen(path, "we");
	int err = 0;

	if (!f)
		return -errno;
	if (fprintf(f, "%d\n", val) < 0)
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

pid_t pidfile_read(const char *path)
{
	FILE *f = fopen(path, "re");
	long pid = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1 || pid <= 1)
		pid = 0;
	fclose(f);
	return pid;
}

/* The live COMM whose pid the state file FILE of bridge holds; 0: none. */
pid_t state_pid(const char *bridge, const char *file, const char *comm)
{
	char path[PATH_MAX];
	pid_t pid;

	if (state_path(bridge, file, path, sizeof(path)))
		return 0;
	pid = pidfile_read(path);
	return pid_alive(pid, comm) ? pid : 0;
}

/* SIGTERM, up to tries * 20 ms to go (reaped if it is our child), then SIGKILL. */
void proc_stop(pid_t pid, const char *comm, int tries)
{
	if (!pid_alive(pid, comm))
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < tries && pid_alive(pid, comm); i++) {
		waitpid(pid, NULL, WNOHANG);
		usleep(20000);
	}
	if (pid_alive(pid, comm))
		kill(pid, SIGKILL);
	waitpid(pid, NULL, WNOHANG);
}

/* Alive, and really the program we think it is (pids get reused). */
bool pid_alive(pid_t pid, const char *comm)
{
	char path[64], buf[64] = "";
	FILE *f;

	if (pid <= 1 || (kill(pid, 0) && errno == ESRCH))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	/* A zombie is not alive. */
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (f) {
		char st = 0;

		if (fscanf(f, "%*d %*s %c", &st) == 1 && st == 'Z') {
			fclose(f);
			return false;
		}
		fclose(f);
	}
	return !strcmp(buf, comm);
}

uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* The GNU build id note of the main program, as hex. */
static int build_id_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	char *out = data;

	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;

		while (ph->p_type == PT_NOTE && p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *n = (const void *)p;
			const uint8_t *desc = (const uint8_t *)(n + 1) + ((n->n_namesz + 3) & ~3u);

			if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && !memcmp(n + 1, "GNU", 4)) {
				for (uint32_t k = 0; k < n->n_descsz && k < 20; k++)
					sprintf(out + 2 * k, "%02x", desc[k]);
				return 1;
			}
			p = (const char *)desc + ((n->n_descsz + 3) & ~3u);
		}
	}
	return 1; /* the first object is the program itself */
}

/*
 * Which build this is: the linker's build id (a hash of the whole binary,
 * the BPF object inside included).  An attach by another build upgrades.
 */
const char *build_id(void)
{
	static char id[41];

	if (!id[0]) {
		dl_iterate_phdr(build_id_cb, id);
		if (!id[0])
			strcpy(id, "unknown");
	}
	return id;
}
