/* An echo bot on the dwhatsapp ring, with the C API only: it answers every
 * message with "echo: <text>" from its receiver callback, until SIGINT or
 * SIGTERM.
 *
 * Usage: echo_bot HOST:PORT DATA_DIR NICKNAME   (password: first line of stdin)
 * Build by hand: cc echo_bot.c $(pkg-config --cflags --libs dwhatsapp) */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "dwhatsapp/dwhatsapp.h"

static int fail(const char *what, dws_status st) {
  fprintf(stderr, "echo-bot: %s: %s (%s)\n", what, dws_last_error(), dws_strerror(st));
  return 1;
}

/* Runs on the client's receiver thread, which may use the client. */
static void answer(const dws_message *m, void *user_data) {
  dws_client_t *client = user_data;
  char reply[4096];
  char *id = NULL;
  dws_status st;
  snprintf(reply, sizeof reply, "echo: %s", m->text);
  st = dws_client_send(client, m->from, reply, &id);
  if (st == DWS_OK) {
    printf("echo-bot: answered %s from %s with %s\n", m->id, m->from, id);
  } else {
    fprintf(stderr, "echo-bot: cannot answer %s from %s: %s\n", m->id, m->from, dws_last_error());
  }
  fflush(stdout);
  dws_free(id);
}

static void receiver_error(dws_status code, const char *detail, void *user_data) {
  (void)user_data;
  fprintf(stderr, "echo-bot: receiving: %s (%s); retrying\n", detail, dws_strerror(code));
}

int main(int argc, char **argv) {
  dws_client_options options;
  dws_receive_callbacks callbacks;
  dws_client_t *client = NULL;
  const char *servers[1];
  char password[1024];
  char *me = NULL;
  sigset_t stop_signals;
  int sig = 0;
  dws_status st;

  if (argc != 4) {
    fprintf(stderr, "usage: %s HOST:PORT DATA_DIR NICKNAME  (password on the first line of stdin)\n", argv[0]);
    return 2;
  }
  if (fgets(password, sizeof password, stdin) == NULL) {
    fprintf(stderr, "echo-bot: expected the password on the first line of stdin\n");
    return 2;
  }
  password[strcspn(password, "\r\n")] = '\0';

  /* Block the stop signals before the library starts threads, so that only
   * sigwait() below sees them. */
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

  dws_client_options_init(&options);
  servers[0] = argv[1];
  options.servers = servers;
  options.servers_len = 1;
  options.data_dir = argv[2];
  if ((st = dws_client_open(&options, &client)) != DWS_OK) return fail("open", st);

  st = dws_client_register(client, argv[3], password);
  if (st == DWS_ERR_EXISTS) st = dws_client_login(client, argv[3], password);
  if (st != DWS_OK) {
    fail("register or log in", st);
    dws_client_free(client);
    return 1;
  }

  dws_receive_callbacks_init(&callbacks);
  callbacks.on_message = answer;
  callbacks.on_error = receiver_error;
  callbacks.user_data = client;
  if ((st = dws_client_start_receiving_with(client, &callbacks)) != DWS_OK) {
    fail("start receiving", st);
    dws_client_free(client);
    return 1;
  }
  dws_client_whoami(client, &me);
  printf("echo-bot: answering as %s\n", me ? me : argv[3]);
  fflush(stdout);
  dws_free(me);

  sigwait(&stop_signals, &sig);
  dws_client_free(client); /* stops the receiver first */
  return 0;
}
