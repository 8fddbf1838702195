/*
 * heartbeat.c — the heartbeat ring and the lag estimate (see heartbeat.h).
 */
#include "health/heartbeat.h"

#include <string.h>

void hc_hb_init(struct hc_hb *hb)
{
	memset(hb, 0, sizeof(*hb));
}

int64_t hc_hb_next_value(const struct hc_hb *hb, int64_t wall_us)
{
	return wall_us > hb->last_value ? wall_us : hb->last_value + 1;
}

static const struct hc_hb_entry *at(const struct hc_hb *hb, size_t i)
{
	return &hb->e[(hb->head + i) % HC_HB_RING];
}

void hc_hb_record(struct hc_hb *hb, int64_t value, int64_t mono_us)
{
	if (hb->n > 0 && value <= at(hb, hb->n - 1)->value)
		return;
	if (hb->n == HC_HB_RING) {
		hb->head = (hb->head + 1) % HC_HB_RING;
		hb->n--;
	}
	hb->e[(hb->head + hb->n) % HC_HB_RING] = (struct hc_hb_entry){value, mono_us};
	hb->n++;
	if (value > hb->last_value)
		hb->last_value = value;
}

int64_t hc_hb_lag_us(const struct hc_hb *hb, int64_t applied, int64_t ref_mono_us)
{
	if (hb->n == 0)
		return -1;
	if (applied >= at(hb, hb->n - 1)->value)
		return 0;
	/* First entry with value > applied: values grow, so binary search. */
	size_t lo = 0, hi = hb->n - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (at(hb, mid)->value > applied)
			hi = mid;
		else
			lo = mid + 1;
	}
	int64_t lag = ref_mono_us - at(hb, lo)->mono_us;
	return lag > 0 ? lag : 0;
}
