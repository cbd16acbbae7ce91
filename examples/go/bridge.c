// The C side of the callbacks: trampolines from the library's callback
// types to the Go functions callbacks.go exports. user_data carries a
// runtime/cgo Handle.
#include <stdint.h>

#include "_cgo_export.h"

static void on_message(const dws_message *m, void *user_data) {
  goOnMessage((dws_message *)m, (uintptr_t)user_data);
}

static void on_state(const dws_message *m, void *user_data) { goOnState((dws_message *)m, (uintptr_t)user_data); }

static void on_error(dws_status code, const char *detail, void *user_data) {
  goOnError((int)code, (char *)detail, (uintptr_t)user_data);
}

static void on_log(const char *line, void *user_data) { goOnLog((char *)line, (uintptr_t)user_data); }

dws_status dwsgo_start_receiving(dws_client_t *client, uintptr_t handle) {
  dws_receive_callbacks cb;
  dws_receive_callbacks_init(&cb);
  cb.on_message = on_message;
  cb.on_state = on_state;
  cb.on_error = on_error;
  cb.user_data = (void *)handle;
  return dws_client_start_receiving_with(client, &cb);
}

void dwsgo_set_log(dws_node_options *options, uintptr_t handle) {
  options->log = on_log;
  options->log_user_data = (void *)handle;
}
