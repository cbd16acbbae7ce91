/* The smallest C program that embeds libdwhatsapp: prints its version.
 * Build by hand: cc version.c $(pkg-config --cflags --libs dwhatsapp) */
#include <stdio.h>

#include "dwhatsapp/dwhatsapp.h"

int main(void) {
  printf("libdwhatsapp %s\n", dws_version());
  return 0;
}
