/* The C ABI alone, from C99: three nodes form a ring in this process, alice
 * and bob register, bob's background receiver answers alice's message from
 * inside its callback, alice's receiver gets the answer and sees her message
 * delivered; then contacts, chats, history, mark read, servers, password
 * change, logout and login, account deletion, and a stopped node. Every
 * misuse (NULL handles and arguments, an invalid nickname, a wrong password,
 * an unknown recipient, a too small options struct, calls before login)
 * returns its status with a detail in dws_last_error(), never a crash. */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dwhatsapp/dwhatsapp.h"

#define DEADLINE_S 30

static int failures = 0;

static void fail(const char *where, int line, const char *what) {
  fprintf(stderr, "FAIL (%s:%d): %s\n", where, line, what);
  failures++;
}

/* A call that must succeed; the test cannot go on without it. */
#define MUST(call)                                                                                      \
  do {                                                                                                  \
    dws_status must_st = (call);                                                                        \
    if (must_st != DWS_OK) {                                                                            \
      fprintf(stderr, "FAIL (%s:%d): %s: expected DWS_OK, got %d (%s): %s\n", __FILE__, __LINE__, #call, \
              (int)must_st, dws_strerror(must_st), dws_last_error());                                   \
      exit(1);                                                                                          \
    }                                                                                                   \
  } while (0)

/* A check that is reported and counted, the test going on. */
#define CHECK(cond, ...)                                 \
  do {                                                   \
    if (!(cond)) {                                       \
      char check_buf[1024];                              \
      snprintf(check_buf, sizeof check_buf, __VA_ARGS__); \
      fail(__FILE__, __LINE__, check_buf);               \
    }                                                    \
  } while (0)

/* A call that must fail with `code` and a detail containing `word`. */
#define EXPECT_ERROR(call, code, word) expect_error((call), (code), (word), #call, __LINE__)

static void expect_error(dws_status got, dws_status want, const char *word, const char *text, int line) {
  const char *detail = dws_last_error();
  char buf[1024];
  if (got != want) {
    snprintf(buf, sizeof buf, "%s: expected %d (%s), got %d (%s): \"%s\"", text, (int)want, dws_strerror(want),
             (int)got, dws_strerror(got), detail);
    fail(__FILE__, line, buf);
  } else if (detail == NULL || detail[0] == '\0' || (word != NULL && strstr(detail, word) == NULL)) {
    snprintf(buf, sizeof buf, "%s: expected a detail mentioning \"%s\", got \"%s\"", text, word ? word : "",
             detail ? detail : "(null)");
    fail(__FILE__, line, buf);
  }
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  nanosleep(&ts, NULL);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void remove_tree(const char *path) { nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

static dws_node_t *start_node(const char *peer) {
  dws_node_options o;
  dws_node_t *node = NULL;
  dws_node_options_init(&o);
  o.peer = peer;
  /* A ring anyone may join: the joiners need no secret file. */
  o.open_ring = peer == NULL;
  o.stabilize_ms = 200;
  o.sync_ms = 500;
  o.discovery_port = 0;
  o.http_threads = 4;
  o.log_level = "warn";
  MUST(dws_node_start(&o, &node));
  return node;
}

/* One correct ring of the three: each first successor is the next id, each
 * predecessor the previous one. */
static int ring_formed(dws_node_t *const *nodes, size_t n, char *why, size_t why_len) {
  uint64_t ids[3];
  size_t i, j;
  for (i = 0; i < n; i++) MUST(dws_node_id(nodes[i], &ids[i]));
  for (i = 0; i < n; i++) {
    dws_ring_view *v = NULL;
    uint64_t next = 0, prev = 0;
    int have_next = 0, have_prev = 0, ok;
    MUST(dws_node_view(nodes[i], &v));
    /* The next id clockwise and the previous one. */
    for (j = 0; j < n; j++) {
      uint64_t d_next = ids[j] - ids[i], d_prev = ids[i] - ids[j];
      if (j == i) continue;
      if (!have_next || d_next < next - ids[i]) next = ids[j], have_next = 1;
      if (!have_prev || d_prev < ids[i] - prev) prev = ids[j], have_prev = 1;
    }
    ok = v->self.id == ids[i] && v->has_predecessor && v->predecessor.id == prev && v->successors_len > 0 &&
         v->successors[0].id == next && v->predecessor.address != NULL;
    if (!ok)
      snprintf(why, why_len, "node %s: predecessor %s, %zu successors", v->self.address,
               v->has_predecessor ? v->predecessor.address : "none", v->successors_len);
    dws_ring_view_free(v);
    if (!ok) return 0;
  }
  return 1;
}

struct inbox {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  char *ids[16];
  char *texts[16];
  char *froms[16];
  int count;
  int delivered;     /* on_state reports of DWS_DELIVERY_DELIVERED */
  int errors;        /* on_error reports */
  dws_client_t *self; /* for answers from inside the callback */
  int answer;
  dws_status answer_status;
};

static void inbox_init(struct inbox *b, dws_client_t *self, int answer) {
  memset(b, 0, sizeof *b);
  pthread_mutex_init(&b->mu, NULL);
  pthread_cond_init(&b->cv, NULL);
  b->self = self;
  b->answer = answer;
  b->answer_status = DWS_OK;
}

static char *copy(const char *s) {
  char *out = malloc(strlen(s) + 1);
  if (out != NULL) strcpy(out, s);
  return out;
}

static void inbox_destroy(struct inbox *b) {
  int i;
  for (i = 0; i < b->count; i++) {
    free(b->ids[i]);
    free(b->texts[i]);
    free(b->froms[i]);
  }
  pthread_cond_destroy(&b->cv);
  pthread_mutex_destroy(&b->mu);
}

static void on_message(const dws_message *m, void *user_data) {
  struct inbox *b = user_data;
  dws_status answered = DWS_OK;
  if (b->answer) {
    /* The callback may use its own client: answer at once. */
    char text[512];
    char *id = NULL;
    snprintf(text, sizeof text, "echo: %s", m->text);
    answered = dws_client_send(b->self, m->from, text, &id);
    dws_free(id);
  }
  pthread_mutex_lock(&b->mu);
  if (b->count < 16) {
    b->ids[b->count] = copy(m->id);
    b->texts[b->count] = copy(m->text);
    b->froms[b->count] = copy(m->from);
    b->count++;
  }
  if (answered != DWS_OK) b->answer_status = answered;
  pthread_cond_broadcast(&b->cv);
  pthread_mutex_unlock(&b->mu);
}

static void on_state(const dws_message *m, void *user_data) {
  struct inbox *b = user_data;
  pthread_mutex_lock(&b->mu);
  if (m->outgoing && m->state == DWS_DELIVERY_DELIVERED) b->delivered++;
  pthread_cond_broadcast(&b->cv);
  pthread_mutex_unlock(&b->mu);
}

static void on_error(dws_status code, const char *detail, void *user_data) {
  struct inbox *b = user_data;
  fprintf(stderr, "(receiver error %d: %s)\n", (int)code, detail);
  pthread_mutex_lock(&b->mu);
  b->errors++;
  pthread_mutex_unlock(&b->mu);
}

/* Waits until the inbox holds `count` messages and `delivered` reports. */
static int inbox_wait(struct inbox *b, int count, int delivered) {
  struct timespec until;
  int ok;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += DEADLINE_S;
  pthread_mutex_lock(&b->mu);
  while (b->count < count || b->delivered < delivered) {
    if (pthread_cond_timedwait(&b->cv, &b->mu, &until) == ETIMEDOUT) break;
  }
  ok = b->count >= count && b->delivered >= delivered;
  pthread_mutex_unlock(&b->mu);
  return ok;
}

static dws_client_t *open_client(const char *dir, const char *server) {
  dws_client_options o;
  dws_client_t *c = NULL;
  const char *servers[1];
  servers[0] = server;
  dws_client_options_init(&o);
  o.data_dir = dir;
  o.servers = servers;
  o.servers_len = 1;
  o.discovery_port = 0;
  o.poll_wait_s = 2;
  o.kdf_opslimit = 1; /* the minimum argon2id cost: fast tests */
  o.kdf_memlimit = 8192;
  MUST(dws_client_open(&o, &c));
  return c;
}

static void misuse_without_handles(void) {
  dws_node_options no;
  dws_client_options co;
  dws_node_t *node = NULL;
  dws_client_t *client = NULL;
  char *s = NULL;
  uint64_t id;
  dws_ring_view *view = NULL;
  dws_record_counts counts;
  dws_message_list *ml = NULL;
  dws_contact_list *cl = NULL;
  dws_chat_list *chl = NULL;
  dws_string_list *sl = NULL;
  dws_receive_callbacks cb;

  dws_node_options_init(&no);
  dws_client_options_init(&co);
  dws_receive_callbacks_init(&cb);
  EXPECT_ERROR(dws_node_start(NULL, &node), DWS_ERR_INVALID_ARGUMENT, "options");
  EXPECT_ERROR(dws_node_start(&no, NULL), DWS_ERR_INVALID_ARGUMENT, "node");
  EXPECT_ERROR(dws_node_address(NULL, &s), DWS_ERR_INVALID_ARGUMENT, "node");
  EXPECT_ERROR(dws_node_id(NULL, &id), DWS_ERR_INVALID_ARGUMENT, "node");
  EXPECT_ERROR(dws_node_stop(NULL), DWS_ERR_INVALID_ARGUMENT, "node");
  EXPECT_ERROR(dws_node_halt(NULL), DWS_ERR_INVALID_ARGUMENT, "node");
  EXPECT_ERROR(dws_node_view(NULL, &view), DWS_ERR_INVALID_ARGUMENT, "node");
  EXPECT_ERROR(dws_node_record_counts(NULL, &counts), DWS_ERR_INVALID_ARGUMENT, "node");
  EXPECT_ERROR(dws_node_metrics(NULL, &s), DWS_ERR_INVALID_ARGUMENT, "node");
  no.size = 8;
  EXPECT_ERROR(dws_node_start(&no, &node), DWS_ERR_INVALID_ARGUMENT, "dws_node_options_init");
  dws_node_options_init(&no);
  no.listen = "not an address";
  no.discovery_port = 0;
  EXPECT_ERROR(dws_node_start(&no, &node), DWS_ERR_INVALID_ARGUMENT, "not an address");
  CHECK(node == NULL, "a failed dws_node_start must leave *node alone");

  EXPECT_ERROR(dws_client_open(NULL, &client), DWS_ERR_INVALID_ARGUMENT, "options");
  EXPECT_ERROR(dws_client_open(&co, NULL), DWS_ERR_INVALID_ARGUMENT, "client");
  EXPECT_ERROR(dws_client_open(&co, &client), DWS_ERR_INVALID_ARGUMENT, "data_dir");
  co.data_dir = "/tmp/unused";
  co.servers_len = 2;
  EXPECT_ERROR(dws_client_open(&co, &client), DWS_ERR_INVALID_ARGUMENT, "servers");
  co.servers_len = 0;
  co.size = 3;
  EXPECT_ERROR(dws_client_open(&co, &client), DWS_ERR_INVALID_ARGUMENT, "dws_client_options_init");
  CHECK(client == NULL, "a failed dws_client_open must leave *client alone");

  EXPECT_ERROR(dws_client_register(NULL, "a", "b"), DWS_ERR_INVALID_ARGUMENT, "client");
  EXPECT_ERROR(dws_client_register_named(NULL, "a", "b", NULL), DWS_ERR_INVALID_ARGUMENT, "client");
  EXPECT_ERROR(dws_client_login(NULL, "a", "b"), DWS_ERR_INVALID_ARGUMENT, "client");
  EXPECT_ERROR(dws_client_logout(NULL), DWS_ERR_INVALID_ARGUMENT, "client");
  EXPECT_ERROR(dws_client_whoami(NULL, &s), DWS_ERR_INVALID_ARGUMENT, "client");
  EXPECT_ERROR(dws_client_change_password(NULL, "a", "b"), DWS_ERR_INVALID_ARGUMENT, "client");
  EXPECT_ERROR(dws_client_delete_account(NULL, "a"), DWS_ERR_INVALID_ARGUMENT, "client");
  EXPECT_ERROR(dws_client_send(NULL, "a", "b", &s), DWS_ERR_INVALID_ARGUMENT, "client");
  EXPECT_ERROR(dws_client_start_receiving(NULL, NULL, NULL), DWS_ERR_INVALID_ARGUMENT, "client");
  EXPECT_ERROR(dws_client_start_receiving_with(NULL, &cb), DWS_ERR_INVALID_ARGUMENT, "client");
  EXPECT_ERROR(dws_client_receive(NULL, 0, &ml), DWS_ERR_INVALID_ARGUMENT, "client");
  EXPECT_ERROR(dws_client_add_contact(NULL, "a", NULL), DWS_ERR_INVALID_ARGUMENT, "client");
  EXPECT_ERROR(dws_client_contacts(NULL, &cl), DWS_ERR_INVALID_ARGUMENT, "client");
  EXPECT_ERROR(dws_client_remove_contact(NULL, "a"), DWS_ERR_INVALID_ARGUMENT, "client");
  EXPECT_ERROR(dws_client_chats(NULL, &chl), DWS_ERR_INVALID_ARGUMENT, "client");
  EXPECT_ERROR(dws_client_history(NULL, "a", NULL, 0, &ml), DWS_ERR_INVALID_ARGUMENT, "client");
  EXPECT_ERROR(dws_client_mark_read(NULL, "a"), DWS_ERR_INVALID_ARGUMENT, "client");
  EXPECT_ERROR(dws_client_servers(NULL, &sl), DWS_ERR_INVALID_ARGUMENT, "client");
  /* The void calls ignore NULL. */
  dws_client_stop_receiving(NULL);
  dws_client_free(NULL);
  dws_node_free(NULL);
  dws_ring_view_free(NULL);
  dws_message_list_free(NULL);
  dws_contact_list_free(NULL);
  dws_chat_list_free(NULL);
  dws_string_list_free(NULL);
  dws_free(NULL);
  dws_node_options_init(NULL);
  dws_client_options_init(NULL);
  dws_receive_callbacks_init(NULL);
}

/* NULL arguments on a real client, and the calls that need a login. */
static void misuse_with_client(dws_client_t *fresh) {
  char *s = NULL;
  dws_message_list *ml = NULL;
  dws_contact_list *cl = NULL;
  dws_chat_list *chl = NULL;
  dws_string_list *sl = NULL;
  dws_receive_callbacks cb;

  EXPECT_ERROR(dws_client_register(fresh, NULL, "pw"), DWS_ERR_INVALID_ARGUMENT, "nickname");
  EXPECT_ERROR(dws_client_register(fresh, "carol", NULL), DWS_ERR_INVALID_ARGUMENT, "password");
  EXPECT_ERROR(dws_client_login(fresh, NULL, "pw"), DWS_ERR_INVALID_ARGUMENT, "nickname");
  EXPECT_ERROR(dws_client_whoami(fresh, NULL), DWS_ERR_INVALID_ARGUMENT, "nickname");
  EXPECT_ERROR(dws_client_change_password(fresh, NULL, "x"), DWS_ERR_INVALID_ARGUMENT, "old_password");
  EXPECT_ERROR(dws_client_send(fresh, NULL, "x", &s), DWS_ERR_INVALID_ARGUMENT, "to");
  EXPECT_ERROR(dws_client_send(fresh, "bob", NULL, &s), DWS_ERR_INVALID_ARGUMENT, "text");
  EXPECT_ERROR(dws_client_send(fresh, "bob", "x", NULL), DWS_ERR_INVALID_ARGUMENT, "message_id");
  EXPECT_ERROR(dws_client_start_receiving_with(fresh, NULL), DWS_ERR_INVALID_ARGUMENT, "callbacks");
  dws_receive_callbacks_init(&cb);
  cb.size = 1;
  EXPECT_ERROR(dws_client_start_receiving_with(fresh, &cb), DWS_ERR_INVALID_ARGUMENT, "dws_receive_callbacks_init");
  EXPECT_ERROR(dws_client_receive(fresh, 0, NULL), DWS_ERR_INVALID_ARGUMENT, "messages");
  EXPECT_ERROR(dws_client_receive(fresh, 99, &ml), DWS_ERR_INVALID_ARGUMENT, "wait_s");
  EXPECT_ERROR(dws_client_contacts(fresh, NULL), DWS_ERR_INVALID_ARGUMENT, "contacts");
  EXPECT_ERROR(dws_client_chats(fresh, NULL), DWS_ERR_INVALID_ARGUMENT, "chats");
  EXPECT_ERROR(dws_client_history(fresh, NULL, NULL, 0, &ml), DWS_ERR_INVALID_ARGUMENT, "peer");
  EXPECT_ERROR(dws_client_history(fresh, "bob", "not-an-id", 0, &ml), DWS_ERR_INVALID_ARGUMENT, "before");
  EXPECT_ERROR(dws_client_servers(fresh, NULL), DWS_ERR_INVALID_ARGUMENT, "servers");
  (void)cl;
  (void)chl;
  (void)sl;

  /* Not logged in. */
  MUST(dws_client_whoami(fresh, &s));
  CHECK(s == NULL, "whoami before any login: expected NULL, got \"%s\"", s ? s : "");
  CHECK(dws_last_error()[0] == '\0', "after a success dws_last_error() must be \"\", got \"%s\"", dws_last_error());
  EXPECT_ERROR(dws_client_send(fresh, "bob", "hi", &s), DWS_ERR_UNAUTHENTICATED, "log in");
  EXPECT_ERROR(dws_client_start_receiving(fresh, on_message, NULL), DWS_ERR_UNAUTHENTICATED, "log in");
  EXPECT_ERROR(dws_client_receive(fresh, 0, &ml), DWS_ERR_UNAUTHENTICATED, "log in");
  EXPECT_ERROR(dws_client_change_password(fresh, "a", "b"), DWS_ERR_UNAUTHENTICATED, "log in");

  /* Account mistakes a person makes. */
  EXPECT_ERROR(dws_client_register(fresh, "Al ice", "pw"), DWS_ERR_INVALID_ARGUMENT, "nickname");
  EXPECT_ERROR(dws_client_register(fresh, "carol", "short"), DWS_ERR_INVALID_ARGUMENT, "at least 8");
  EXPECT_ERROR(dws_client_register(fresh, "alice", "another password"), DWS_ERR_EXISTS, "alice");
  EXPECT_ERROR(dws_client_login(fresh, "alice", "not alice's password"), DWS_ERR_UNAUTHENTICATED,
               "wrong nickname or password");
  EXPECT_ERROR(dws_client_login(fresh, "nobody_here", "pw"), DWS_ERR_UNAUTHENTICATED, "wrong nickname or password");
}

int main(void) {
  char tmpl[] = "/tmp/dws-capi-test-XXXXXX";
  char alice_dir[512], bob_dir[512], carol_dir[512];
  dws_node_t *nodes[3];
  char *addr[3];
  char why[512] = "";
  double deadline;
  size_t i;
  dws_client_t *alice, *bob, *carol;
  struct inbox alice_box, bob_box;
  dws_receive_callbacks cb;
  char *sent_id = NULL, *s = NULL;
  dws_message_list *ml = NULL;
  dws_contact_list *cl = NULL;
  dws_chat_list *chl = NULL;
  dws_string_list *sl = NULL;
  dws_record_counts counts;
  const char *root = mkdtemp(tmpl);

  if (root == NULL) {
    perror("mkdtemp");
    return 1;
  }
  misuse_without_handles();

  /* Three nodes, one ring. */
  nodes[0] = start_node(NULL);
  MUST(dws_node_address(nodes[0], &addr[0]));
  nodes[1] = start_node(addr[0]);
  nodes[2] = start_node(addr[0]);
  MUST(dws_node_address(nodes[1], &addr[1]));
  MUST(dws_node_address(nodes[2], &addr[2]));
  deadline = now_s() + DEADLINE_S;
  while (!ring_formed(nodes, 3, why, sizeof why)) {
    if (now_s() > deadline) {
      fprintf(stderr, "FAIL: no ring of 3 within %d s: %s\n", DEADLINE_S, why);
      return 1;
    }
    sleep_ms(50);
  }
  printf("ring of 3: %s %s %s\n", addr[0], addr[1], addr[2]);
  fflush(stdout);

  snprintf(alice_dir, sizeof alice_dir, "%s/alice", root);
  snprintf(bob_dir, sizeof bob_dir, "%s/bob", root);
  snprintf(carol_dir, sizeof carol_dir, "%s/carol", root);
  alice = open_client(alice_dir, addr[0]);
  bob = open_client(bob_dir, addr[1]);
  carol = open_client(carol_dir, addr[2]);
  MUST(dws_client_register(alice, "alice", "alice's password"));
  MUST(dws_client_register_named(bob, "bob", "bob's password", "Bob B."));
  MUST(dws_client_whoami(alice, &s));
  CHECK(s != NULL && strcmp(s, "alice") == 0, "whoami: expected \"alice\", got \"%s\"", s ? s : "(null)");
  dws_free(s);
  misuse_with_client(carol);
  EXPECT_ERROR(dws_client_send(alice, "nobody_here", "hello?", &sent_id), DWS_ERR_NOT_FOUND, "nobody_here");

  /* Bob answers from his callback; alice's receiver gets the answer and
   * her message's receipt. */
  inbox_init(&bob_box, bob, 1);
  inbox_init(&alice_box, alice, 0);
  dws_receive_callbacks_init(&cb);
  cb.on_message = on_message;
  cb.on_state = on_state;
  cb.on_error = on_error;
  cb.user_data = &bob_box;
  MUST(dws_client_start_receiving_with(bob, &cb));
  cb.user_data = &alice_box;
  MUST(dws_client_start_receiving_with(alice, &cb));
  MUST(dws_client_send(alice, "bob", "hello bob, from C", &sent_id));
  CHECK(strlen(sent_id) == 32, "message id: expected 32 hex digits, got \"%s\"", sent_id);
  CHECK(inbox_wait(&bob_box, 1, 0), "bob's callback: no message within %d s", DEADLINE_S);
  CHECK(inbox_wait(&alice_box, 1, 1), "alice: expected bob's answer and a delivered report within %d s, got %d, %d",
        DEADLINE_S, alice_box.count, alice_box.delivered);
  dws_client_stop_receiving(bob);
  dws_client_stop_receiving(alice);
  dws_client_stop_receiving(alice); /* idempotent */
  if (bob_box.count >= 1) {
    CHECK(strcmp(bob_box.ids[0], sent_id) == 0 && strcmp(bob_box.texts[0], "hello bob, from C") == 0 &&
              strcmp(bob_box.froms[0], "alice") == 0,
          "bob got %s \"%s\" from %s, alice sent %s", bob_box.ids[0], bob_box.texts[0], bob_box.froms[0], sent_id);
  }
  CHECK(bob_box.answer_status == DWS_OK, "bob's answer from inside the callback failed: %d",
        (int)bob_box.answer_status);
  if (alice_box.count >= 1) {
    CHECK(strcmp(alice_box.texts[0], "echo: hello bob, from C") == 0 && strcmp(alice_box.froms[0], "bob") == 0,
          "alice got \"%s\" from %s, expected bob's echo", alice_box.texts[0], alice_box.froms[0]);
  }
  printf("alice -> bob -> alice through the callbacks; receipt reported\n");
  fflush(stdout);

  /* The history: her message delivered, then his answer. */
  MUST(dws_client_history(alice, "bob", NULL, 0, &ml));
  CHECK(ml->count == 2, "alice's history with bob: expected 2 messages, got %zu", ml->count);
  if (ml->count == 2) {
    const dws_message *mine = ml->items[0], *theirs = ml->items[1];
    CHECK(strcmp(mine->id, sent_id) == 0 && mine->outgoing && mine->state == DWS_DELIVERY_DELIVERED &&
              strcmp(mine->to, "bob") == 0 && mine->sent_at > 0,
          "first: expected %s outgoing delivered to bob, got %s outgoing=%d state=%d to %s", sent_id, mine->id,
          mine->outgoing, mine->state, mine->to);
    CHECK(!theirs->outgoing && theirs->state == DWS_DELIVERY_RECEIVED && theirs->received_at > 0 &&
              strcmp(theirs->text, "echo: hello bob, from C") == 0,
          "second: expected bob's echo received, got outgoing=%d state=%d \"%s\"", theirs->outgoing, theirs->state,
          theirs->text);
  }
  dws_message_list_free(ml);
  dws_free(sent_id);

  /* Nothing left in bob's mailbox: each id once. */
  MUST(dws_client_receive(bob, 0, &ml));
  CHECK(ml->count == 0, "bob's explicit receive after his receiver: expected nothing, got %zu", ml->count);
  dws_message_list_free(ml);

  /* Chats and mark read. */
  MUST(dws_client_chats(alice, &chl));
  CHECK(chl->count == 1 && strcmp(chl->items[0]->peer, "bob") == 0 && chl->items[0]->unread == 1 &&
            chl->items[0]->last != NULL && strcmp(chl->items[0]->last->text, "echo: hello bob, from C") == 0,
        "alice's chats: expected one with bob, 1 unread, ending with his echo; got %zu", chl->count);
  dws_chat_list_free(chl);
  MUST(dws_client_mark_read(alice, "bob"));
  MUST(dws_client_chats(alice, &chl));
  CHECK(chl->count == 1 && chl->items[0]->unread == 0, "after mark_read: expected 0 unread");
  dws_chat_list_free(chl);
  MUST(dws_client_mark_read(alice, "carol")); /* no chat yet: nothing to mark */
  EXPECT_ERROR(dws_client_mark_read(alice, "Al ice"), DWS_ERR_INVALID_ARGUMENT, "nickname");

  /* Contacts. */
  MUST(dws_client_add_contact(alice, "bob", "Bobby"));
  EXPECT_ERROR(dws_client_add_contact(alice, "nobody_here", NULL), DWS_ERR_NOT_FOUND, "nobody_here");
  MUST(dws_client_contacts(alice, &cl));
  CHECK(cl->count == 1 && strcmp(cl->items[0]->nickname, "bob") == 0 && strcmp(cl->items[0]->alias, "Bobby") == 0 &&
            strcmp(cl->items[0]->display_name, "Bob B.") == 0 && strlen(cl->items[0]->public_key) > 0 &&
            cl->items[0]->key_changed == 0,
        "alice's contacts: expected bob (Bobby, \"Bob B.\", a key, unchanged), got %zu", cl->count);
  dws_contact_list_free(cl);

  /* Aliases, safety numbers, the user check, settings. */
  {
    char *nick = NULL, *bobs_own = NULL, *of_key = NULL;
    dws_contact *c = NULL;
    int on = -1, up = -1;
    MUST(dws_client_resolve(alice, "BOBBY", &nick));
    CHECK(nick != NULL && strcmp(nick, "bob") == 0, "resolve(BOBBY): expected bob, got %s", nick ? nick : "NULL");
    dws_free(nick);
    MUST(dws_client_safety_number(bob, &bobs_own));
    MUST(dws_client_contacts(alice, &cl));
    CHECK(bobs_own != NULL && cl->count == 1 && strcmp(cl->items[0]->safety_number, bobs_own) == 0,
          "bob's own safety number %s should be what alice pinned: %s", bobs_own ? bobs_own : "NULL",
          cl->count ? cl->items[0]->safety_number : "(no contact)");
    MUST(dws_safety_number_of(cl->items[0]->public_key, &of_key));
    CHECK(strcmp(of_key, bobs_own) == 0, "dws_safety_number_of(bob's key) = %s, expected %s", of_key, bobs_own);
    dws_contact_list_free(cl);
    dws_free(of_key);
    dws_free(bobs_own);
    EXPECT_ERROR(dws_safety_number_of("not a key", &of_key), DWS_ERR_INVALID_ARGUMENT, "public_key");
    MUST(dws_client_check_user(alice, "Bobby", &c));
    CHECK(strcmp(c->nickname, "bob") == 0 && strlen(c->safety_number) > 0, "check_user(Bobby): expected bob");
    dws_contact_free(c);
    EXPECT_ERROR(dws_client_check_user(alice, "nobody_here", &c), DWS_ERR_NOT_FOUND, "nobody_here");
    MUST(dws_client_read_receipts(alice, &on));
    CHECK(on == 1, "read receipts: expected on by default");
    MUST(dws_client_set_read_receipts(alice, 0));
    MUST(dws_client_read_receipts(alice, &on));
    CHECK(on == 0, "read receipts: expected off after turning them off");
    MUST(dws_client_set_read_receipts(alice, 1));
    MUST(dws_client_reachable(alice, &up));
    CHECK(up == 1, "reachable: expected the ring to answer");
    CHECK(dws_client_max_text_bytes() >= 60000, "max text bytes %zu", dws_client_max_text_bytes());
  }

  MUST(dws_client_remove_contact(alice, "bob"));
  EXPECT_ERROR(dws_client_remove_contact(alice, "bob"), DWS_ERR_NOT_FOUND, "bob");
  MUST(dws_client_contacts(alice, &cl));
  CHECK(cl->count == 0, "contacts after remove: expected none, got %zu", cl->count);
  dws_contact_list_free(cl);

  /* Servers. */
  MUST(dws_client_servers(alice, &sl));
  CHECK(sl->count >= 1 && strchr(sl->items[0], ':') != NULL, "alice's servers: expected host:port entries");
  dws_string_list_free(sl);

  /* Password change, logout, login. */
  EXPECT_ERROR(dws_client_change_password(alice, "wrong", "new one"), DWS_ERR_UNAUTHENTICATED, "wrong password");
  MUST(dws_client_change_password(alice, "alice's password", "alice's new password"));
  MUST(dws_client_logout(alice));
  MUST(dws_client_whoami(alice, &s));
  CHECK(s == NULL, "whoami after logout: expected NULL");
  EXPECT_ERROR(dws_client_login(alice, "alice", "alice's password"), DWS_ERR_UNAUTHENTICATED, "wrong");
  MUST(dws_client_login(alice, "ALICE", "alice's new password"));
  MUST(dws_client_whoami(alice, &s));
  CHECK(s != NULL && strcmp(s, "alice") == 0, "whoami after login: expected alice");
  dws_free(s);

  /* Carol logs in as bob on another device and deletes the account. */
  MUST(dws_client_login(carol, "bob", "bob's password"));
  EXPECT_ERROR(dws_client_delete_account(carol, "wrong"), DWS_ERR_UNAUTHENTICATED, "wrong password");
  MUST(dws_client_delete_account(carol, "bob's password"));
  MUST(dws_client_whoami(carol, &s));
  CHECK(s == NULL, "whoami after delete_account: expected NULL (logged out)");
  EXPECT_ERROR(dws_client_login(carol, "bob", "bob's password"), DWS_ERR_UNAUTHENTICATED, "wrong nickname or password");

  /* A node holds records; a stopped one keeps only its address and id. */
  MUST(dws_node_record_counts(nodes[0], &counts));
  MUST(dws_node_metrics(nodes[0], &s));
  CHECK(strstr(s, "dws_records_primary") != NULL, "metrics: expected dws_records_primary");
  dws_free(s);

  dws_client_free(alice);
  dws_client_free(bob);
  dws_client_free(carol);
  inbox_destroy(&alice_box);
  inbox_destroy(&bob_box);

  MUST(dws_node_stop(nodes[2]));
  MUST(dws_node_stop(nodes[2])); /* idempotent */
  MUST(dws_node_address(nodes[2], &s));
  CHECK(strcmp(s, addr[2]) == 0, "address after stop: expected %s, got %s", addr[2], s);
  dws_free(s);
  EXPECT_ERROR(dws_node_view(nodes[2], &(dws_ring_view *){NULL}), DWS_ERR_UNAVAILABLE, "stopped");
  EXPECT_ERROR(dws_node_record_counts(nodes[2], &counts), DWS_ERR_UNAVAILABLE, "stopped");
  MUST(dws_node_stop(nodes[0]));
  MUST(dws_node_halt(nodes[1]));
  for (i = 0; i < 3; i++) {
    dws_node_free(nodes[i]);
    dws_free(addr[i]);
  }
  remove_tree(root);

  if (failures == 0) printf("PASS: the C ABI runs a ring and a conversation\n");
  return failures == 0 ? 0 : 1;
}
