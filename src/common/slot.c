/* slot: CRC16-XMODEM and the hash-tag rule. Bit by bit: no table to share
 * between threads, and keys are short (a 70-byte key is 560 steps). */
#include "slot.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

uint16_t slot_crc16(const char *buf, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((unsigned char)buf[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

unsigned slot_of(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open != NULL) {
        size_t from = (size_t)(open - key) + 1;
        const char *close = memchr(key + from, '}', len - from);
        if (close != NULL && close > key + from)
            return slot_crc16(key + from, (size_t)(close - key) - from) &
                   (SLOT_COUNT - 1);
    }
    return slot_crc16(key, len) & (SLOT_COUNT - 1);
}

/* tags[s]: the smallest decimal number whose CRC16 falls in slot s. All
 * 16,384 slots are covered by 0..109757 (at most 6 digits). */
static uint32_t tags[SLOT_COUNT];
static pthread_once_t tags_once = PTHREAD_ONCE_INIT;

static void tags_build(void)
{
    size_t left = SLOT_COUNT;
    bool seen[SLOT_COUNT] = {false};
    for (uint32_t n = 0; left > 0; n++) {
        char buf[12];
        int len = snprintf(buf, sizeof(buf), "%" PRIu32, n);
        unsigned s = slot_crc16(buf, (size_t)len) & (SLOT_COUNT - 1);
        if (!seen[s]) {
            seen[s] = true;
            tags[s] = n;
            left--;
        }
    }
}

int slot_tag(unsigned slot, char *buf)
{
    pthread_once(&tags_once, tags_build);
    return snprintf(buf, SLOT_TAG_MAX, "%" PRIu32, tags[slot & (SLOT_COUNT - 1)]);
}
