/* Built by test_install.py against an installed libdwhatsapp with nothing but
 * `pkg-config --cflags --libs dwhatsapp`: starts a node, prints its address
 * and the version, and makes one failing call to read its detail. */
#include <dwhatsapp/dwhatsapp.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  dws_node_options options;
  dws_node_t *node = NULL;
  char *address = NULL;
  dws_status st;

  dws_node_options_init(&options);
  options.discovery_port = 0;
  options.log_level = "warn";
  if ((st = dws_node_start(&options, &node)) != DWS_OK || (st = dws_node_address(node, &address)) != DWS_OK) {
    fprintf(stderr, "installed libdwhatsapp: %s: %s\n", dws_strerror(st), dws_last_error());
    return 1;
  }
  st = dws_node_address(node, NULL);
  if (st != DWS_ERR_INVALID_ARGUMENT || strstr(dws_last_error(), "address") == NULL) {
    fprintf(stderr, "expected DWS_ERR_INVALID_ARGUMENT naming 'address', got %d \"%s\"\n", (int)st, dws_last_error());
    return 1;
  }
  printf("libdwhatsapp %s: a node on %s\n", dws_version(), address);
  dws_free(address);
  dws_node_stop(node);
  dws_node_free(node);
  return 0;
}
