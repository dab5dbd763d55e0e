/* slot: Redis Cluster's key slot, CRC16-XMODEM of the key (or of its hash
 * tag) modulo 16384, as the cluster spec defines it. Both programs route
 * keys by it in cluster mode. */
#ifndef HOPCOUNT_SLOT_H
#define HOPCOUNT_SLOT_H

#include <stddef.h>
#include <stdint.h>

#define SLOT_COUNT 16384

/* CRC16-XMODEM (polynomial 0x1021, initial 0) of buf[0..len). */
uint16_t slot_crc16(const char *buf, size_t len);

/* The slot of key[0..len): when the key holds a '{' and a later '}' with at
 * least one byte between, only the bytes between the first '{' and the
 * first '}' after it are hashed (the hash tag), else the whole key. */
unsigned slot_of(const char *key, size_t len);

#define SLOT_TAG_MAX 8 /* a tag and its NUL */

/* A short string (decimal digits) that hashes to slot: a key holding
 * "{TAG}" lives in that slot. Written into buf (SLOT_TAG_MAX bytes);
 * returns its length. The table is built once, on first use (~1 ms). */
int slot_tag(unsigned slot, char *buf);

#endif
