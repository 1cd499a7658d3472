/*
 * fuzz_http: libFuzzer target for the HTTP response path, end to end.
 *
 * A tiny HTTP server runs in a thread of this process on 127.0.0.1 and
 * answers each request with the next response of a script taken from the
 * fuzz input, byte for byte (status line, headers, body: nothing is fixed
 * up), then closes the connection.  The real client code runs against it:
 * libcurl, http.c's header and body callbacks (Retry-After, the body cap),
 * meisa.c's retry policy and its reading of every answer with SQLite's JSON
 * functions, and push.c's preflight, upserts and enrollment chunks on a
 * small staging file restored before each input.
 *
 * Input: byte 0 picks the mode; the rest is the script, responses separated
 * by FUZZ_SEP.  Modes: 0 ping, 1 sequence list, 2 unsubscribed list, 3 a
 * whole push with a sequence, 4 http_parse_retry_after on the bytes alone.
 *
 * Bounding each run: when the script runs out (the last response was
 * served) or a response is a 429 (which pauses the client), the server sets
 * the stop flag the client polls, as a signal would, so the client winds
 * down instead of waiting a Retry-After out; a watchdog sets it too when
 * nothing arrives for WATCHDOG_MS.  The client's sleeps (backoff, pacing,
 * the batch timer) are cut short by a signal (see kick_client).
 *
 * After a push the staging file must hold what SPEC.md promises (no
 * suppressed contact in an enrollment chunk, no do-not-email contact
 * upserted, no upsert without a 2xx) or the target aborts; so does any
 * result code no answer should produce (MB_EINTERNAL, MB_EDB, ...).
 * FUZZ_HTTP_DEBUG=1 in the environment prints how each run ended.
 */
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "http.h"
#include "meisa.h"
#include "push.h"
#include "stage.h"

#define FUZZ_SEP "\n~~~~\n"
#define MAX_RESPONSES 24
#define WATCHDOG_MS 50
#define KICK_MS 1
#define KICK_SIGNAL (SIGRTMIN + 2)
#define REQUEST_MAX (64 * 1024)

enum mode { MODE_PING, MODE_SEQUENCES, MODE_UNSUBSCRIBED, MODE_PUSH,
	    MODE_RETRY_AFTER, NMODES };

static const char template_csv[] =
	"email,first_name,status,tags\n"
	"ann@example.com,Ann,subscribed,a\n"
	"bob@example.com,Bob,subscribed,\"b,c\"\n"
	"cy@example.com,Cy,unsubscribed,\n"
	"dee@example.com,Dee,subscribed,\n"
	"eve@example.com,,subscribed,x\n";

static struct {
	int listen_fd;
	int port;
	pthread_t thread;
	pthread_mutex_t lock;
	/* The script of the current input (guarded by lock). */
	const uint8_t *resp[MAX_RESPONSES];
	size_t resp_len[MAX_RESPONSES];
	size_t nresp;
	size_t served;
	int active;
	int64_t last_ms;         /* last request answered, or script start */
	pthread_t client;        /* the thread running the client */
} srv = { -1, 0, 0, PTHREAD_MUTEX_INITIALIZER, { 0 }, { 0 }, 0, 0, 0, 0,
	  0 };

static volatile sig_atomic_t stop_flag;
static char dir[64];
static char base_url[96];
static char db_path[128];
static unsigned char *template_db;
static size_t template_len;

static void die(const char *what, const struct err *e)
{
	fprintf(stderr, "fuzz_http: %s: %s\n", what, e ? e->msg : "");
	abort();
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ server */

/* Read one request (headers and a Content-Length body); 0 when none. */
static int read_request(int fd)
{
	char buf[REQUEST_MAX + 1];
	size_t len = 0, want = 0;
	char *end = NULL;

	for (;;) {
		ssize_t n = recv(fd, buf + len, REQUEST_MAX - len, 0);

		if (n <= 0)
			return 0;
		len += (size_t)n;
		buf[len] = '\0';
		if (!end && (end = strstr(buf, "\r\n\r\n")) != NULL) {
			const char *cl = strcasestr(buf, "\r\ncontent-length:");

			want = (size_t)(end + 4 - buf);
			if (cl && cl < end)
				want += strtoul(cl + 17, NULL, 10);
		}
		if (end && len >= want)
			return 1;
		if (len == REQUEST_MAX)
			return 1;
	}
}

/*
 * Is this response a 429?  The client then waits for its Retry-After or
 * for the rate window, real time that a fuzzer cannot spend: the stop flag
 * ends the run instead (429 handling up to that wait has run).  The status
 * is read as libcurl reads it, closely enough: a wrong guess only costs a
 * WATCHDOG_MS wait.
 */
static int is_429(const uint8_t *p, size_t n)
{
	const uint8_t *end = p + n, *eol;
	int status = 0;
	size_t len, i;

	for (; p < end; p = eol + 1) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		len = (size_t)(eol - p);
		if (len < 5 || memcmp(p, "HTTP/", 5) != 0)
			continue;
		for (i = 5; i < len && p[i] != ' '; i++)
			;
		for (; i < len && p[i] == ' '; i++)
			;
		for (status = 0; i < len && p[i] >= '0' && p[i] <= '9' &&
		     status < 1000; i++)
			status = status * 10 + (p[i] - '0');
		if (status == 429)
			return 1;
	}
	return 0;
}

static void answer(int fd)
{
	static const char busy[] = "HTTP/1.1 503 Busy\r\n"
		"Content-Length: 0\r\n\r\n";
	static uint8_t *copy;
	static size_t copy_cap;
	const uint8_t *p = (const uint8_t *)busy;
	size_t n = sizeof(busy) - 1, i;

	if (!read_request(fd))
		return;
	/* The input is libFuzzer's and freed when the run ends: copy it. */
	pthread_mutex_lock(&srv.lock);
	if (srv.active && srv.nresp) {
		i = srv.served < srv.nresp ? srv.served : srv.nresp - 1;
		n = srv.resp_len[i];
		if (n > copy_cap || !copy) {
			copy_cap = n ? n : 1;  /* never NULL, even for "" */
			copy = realloc(copy, copy_cap);
			if (!copy)
				abort();
		}
		if (n)
			memcpy(copy, srv.resp[i], n);
		p = copy;
		srv.served++;
		if (srv.served >= srv.nresp || is_429(p, n))
			stop_flag = 1;
	}
	srv.last_ms = now_ms();
	pthread_mutex_unlock(&srv.lock);
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			break;
		p += w;
		n -= (size_t)w;
	}
	/* The whole request was read: closing sends a FIN, not a reset. */
	shutdown(fd, SHUT_WR);
}

/*
 * The client sleeps for backoff, pacing and its batch timer in a poll();
 * a signal ends such a sleep early, as http.h documents.  Poking the
 * client whenever it has been quiet for KICK_MS keeps each run short
 * without a test seam in the library: time just seems to pass faster.
 */
static void kick_client(int64_t now)
{
	static int64_t last_kick;

	if (now - srv.last_ms >= KICK_MS && now - last_kick >= KICK_MS) {
		last_kick = now;
		pthread_kill(srv.client, KICK_SIGNAL);
	}
	if (now - srv.last_ms > WATCHDOG_MS)
		stop_flag = 1;
}

static void *serve(void *arg)
{
	struct timeval tv = { 0, 200 * 1000 };
	struct pollfd pfd;

	(void)arg;
	pfd.fd = srv.listen_fd;
	pfd.events = POLLIN;
	for (;;) {
		int fd;

		if (poll(&pfd, 1, srv.active ? 1 : 20) <= 0) {
			pthread_mutex_lock(&srv.lock);
			if (srv.active)
				kick_client(now_ms());
			pthread_mutex_unlock(&srv.lock);
			continue;
		}
		fd = accept(srv.listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		answer(fd);
		close(fd);
	}
	return NULL;
}

static void on_kick(int sig)
{
	(void)sig;
}

static void server_start(void)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int one = 1;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (srv.listen_fd < 0)
		die("socket", NULL);
	setsockopt(srv.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(srv.listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(srv.listen_fd, 64) != 0 ||
	    getsockname(srv.listen_fd, (struct sockaddr *)&a, &alen) != 0)
		die("bind", NULL);
	srv.port = ntohs(a.sin_port);
	if (pthread_create(&srv.thread, NULL, serve, NULL) != 0)
		die("pthread_create", NULL);
}

/* Split the script at FUZZ_SEP and arm the server with it. */
static void script_load(const uint8_t *p, size_t n)
{
	const size_t seplen = sizeof(FUZZ_SEP) - 1;
	size_t count = 0;

	pthread_mutex_lock(&srv.lock);
	while (count < MAX_RESPONSES) {
		const uint8_t *sep = memmem(p, n, FUZZ_SEP, seplen);
		size_t len = sep ? (size_t)(sep - p) : n;

		srv.resp[count] = p;
		srv.resp_len[count] = len;
		count++;
		if (!sep)
			break;
		p = sep + seplen;
		n -= len + seplen;
	}
	srv.nresp = count;
	srv.served = 0;
	srv.client = pthread_self();
	srv.active = 1;
	srv.last_ms = now_ms();
	stop_flag = 0;
	pthread_mutex_unlock(&srv.lock);
}

static void script_end(void)
{
	pthread_mutex_lock(&srv.lock);
	srv.active = 0;
	srv.nresp = 0;
	pthread_mutex_unlock(&srv.lock);
}

/* ------------------------------------------------------------ client */

static void api_opts(struct meisa_opts *o)
{
	*o = (struct meisa_opts)MEISA_OPTS_INIT;
	o->base_url = base_url;
	o->api_key = "meisa_test_fuzz_key";
	o->rate = "none";
	o->concurrency = 1;      /* one at a time: the script's order holds */
	o->give_up_ms = 2000;
	o->backoff_base_ms = 1;
	o->backoff_cap_ms = 2;
	o->stop = &stop_flag;
}

/* rc values a call may end with on any answer; others are findings. */
static void check_rc(const char *what, enum mb_rc rc, const struct err *e)
{
	if (getenv("FUZZ_HTTP_DEBUG"))
		fprintf(stderr, "fuzz_http: %s: rc %d, %zu served: %s\n", what,
			(int)rc, srv.served, rc == MB_OK ? "" : e->msg);
	switch (rc) {
	case MB_OK: case MB_EAUTH: case MB_EPROTO: case MB_EUNAVAILABLE:
	case MB_ESTOPPED: case MB_EFAILED: case MB_EUSAGE:
		return;
	default:
		die(what, e);
	}
}

static void run_meisa(enum mode mode)
{
	struct meisa *m = NULL;
	struct meisa_opts o;
	struct meisa_key_info info;
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;
	enum mb_rc rc;

	api_opts(&o);
	buf_init(&info.scopes, BUF_MAX_DEFAULT);
	rc = meisa_open(&m, &o, &e);
	if (rc != MB_OK)
		die("meisa_open", &e);
	switch (mode) {
	case MODE_PING:
		rc = meisa_ping(m, &info, &e);
		if (rc == MB_OK)
			(void)meisa_has_scope(&info, "contacts:write");
		break;
	case MODE_SEQUENCES:
		rc = meisa_sequences(m, "on board&x", &out, &e);
		break;
	default:
		rc = meisa_unsubscribed(m, &out, &e);
		break;
	}
	check_rc("meisa call", rc, &e);
	meisa_close(m);
	buf_release(&info.scopes);
	buf_release(&out);
}

static void write_all(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
		die("cannot write", NULL);
}

static void restore_db(void)
{
	char path[160];

	snprintf(path, sizeof(path), "%s-wal", db_path);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", db_path);
	unlink(path);
	write_all(db_path, template_db, template_len);
}

static int64_t query_int(struct db *db, const char *sql)
{
	struct err e = ERR_INIT;
	int64_t v = 0;

	if (db_int(db, sql, &v, &e) != MB_OK)
		die(sql, &e);
	return v;
}

static void check_push(struct db *db)
{
	if (query_int(db, "SELECT count(*) FROM contacts WHERE chunk_id IS"
		      " NOT NULL AND (source_status IS NOT NULL OR email IN"
		      " (SELECT email FROM unsubscribed))"))
		die("a suppressed contact is in an enrollment chunk", NULL);
	if (query_int(db, "SELECT count(*) FROM contacts WHERE"
		      " source_status IS NOT NULL AND state != 'skipped'"))
		die("a do-not-email contact was upserted", NULL);
	if (query_int(db, "SELECT count(*) FROM contacts WHERE state ="
		      " 'upserted' AND http_status / 100 != 2"))
		die("upserted without a 2xx", NULL);
}

static void run_push(void)
{
	struct db db = DB_INIT;
	struct push p;
	struct push_opts o;
	struct push_plan plan;
	struct push_result res;
	struct err e = ERR_INIT;
	enum mb_rc rc;

	restore_db();
	memset(&o, 0, sizeof(o));
	api_opts(&o.api);
	o.sequence = "onboarding";
	o.drain_ms = 50;
	push_plan_init(&plan);
	if (db_open(&db, db_path, DB_EXISTING, &e) != MB_OK)
		die("db_open", &e);
	rc = push_open(&p, &db, &o, &e);
	if (rc != MB_OK)
		die("push_open", &e);
	rc = push_preflight(&p, &plan, &e);
	if (rc == MB_OK)
		rc = push_run(&p, &res, &e);
	check_rc("push", rc, &e);
	push_close(&p);
	check_push(&db);
	push_plan_release(&plan);
	db_close(&db);
}

static void ignore_warning(void *ctx, int refused, const char *msg)
{
	(void)ctx;
	(void)refused;
	(void)msg;
}

/* The staging file every push starts from, kept in memory. */
static void make_template(void)
{
	struct stage_opts so = { .map = { .preset = "auto" },
		.source = "import", .warn = ignore_warning };
	struct stage_counts counts;
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	char csv[128];
	const char *paths[1] = { csv };
	FILE *f;
	long len = 0;

	snprintf(csv, sizeof(csv), "%s/contacts.csv", dir);
	write_all(csv, template_csv, sizeof(template_csv) - 1);
	if (db_open(&db, db_path, DB_CREATE, &e) != MB_OK ||
	    stage_files(&db, &so, paths, 1, &counts, &e) != MB_OK)
		die("template", &e);
	db_close(&db);
	unlink(csv);
	f = fopen(db_path, "rb");
	if (!f || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) <= 0)
		die("template read", NULL);
	rewind(f);
	template_len = (size_t)len;
	template_db = malloc(template_len);
	if (!template_db || fread(template_db, 1, template_len, f) !=
	    template_len)
		die("template read", NULL);
	fclose(f);
}

static void cleanup(void)
{
	char path[160];

	snprintf(path, sizeof(path), "%s-wal", db_path);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", db_path);
	unlink(path);
	snprintf(path, sizeof(path), "%s-journal", db_path);
	unlink(path);
	unlink(db_path);
	rmdir(dir);
	free(template_db);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	struct sigaction sa;

	signal(SIGPIPE, SIG_IGN);
	/* SA_RESTART: only the sleeps (poll) end early, never a write. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_kick;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(KICK_SIGNAL, &sa, NULL);
	if (db_global_init() != MB_OK)
		die("db_global_init", NULL);
	/* Held for the whole run, so the opens and closes of each input do
	 * not set libcurl (and OpenSSL) up and tear it down every time. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		die("curl_global_init", NULL);
	snprintf(dir, sizeof(dir), "/dev/shm/fuzz_http.XXXXXX");
	if (!mkdtemp(dir)) {
		snprintf(dir, sizeof(dir), "/tmp/fuzz_http.XXXXXX");
		if (!mkdtemp(dir))
			die("mkdtemp", NULL);
	}
	snprintf(db_path, sizeof(db_path), "%s/push.db", dir);
	make_template();
	atexit(cleanup);
	server_start();
	snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%d/api/v1",
		 srv.port);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum mode mode;

	if (size < 1)
		return 0;
	mode = (enum mode)(data[0] % NMODES);
	data++;
	size--;
	if (mode == MODE_RETRY_AFTER) {
		char *s = malloc(size + 1);

		if (!s)
			abort();
		memcpy(s, data, size);
		s[size] = '\0';
		(void)http_parse_retry_after(s, 1700000000);
		free(s);
		return 0;
	}
	script_load(data, size);
	if (mode == MODE_PUSH)
		run_push();
	else
		run_meisa(mode);
	script_end();
	return 0;
}
