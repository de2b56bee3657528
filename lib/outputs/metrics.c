// SPDX-License-Identifier: Apache-2.0
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "flow_abi.h"
#include "hostport.h"
#include "log.h"

struct metric {
	_Atomic(struct metric *) next;	/* creation order */
	struct metric *hash_next;	/* under metrics.lock */
	struct metric *dead_next;	/* forgotten, waiting to be freed */
	struct metric_family *fam;
	char **values;
	char *labels;			/* rendered a="x",b="y" or "" */
	uint64_t hash;
	_Atomic uint64_t value;		/* counter, or a gauge's bits */
	/* histogram: buckets (not cumulative, +Inf last), count, sum */
	pthread_mutex_t hist_lock;
	uint64_t *buckets;
	uint64_t count;
	double sum;
};

struct metric_family {
	_Atomic(struct metric_family *) next;	/* append-only */
	struct metrics *reg;
	char *name;
	char *help;
	enum metric_type type;
	char **labels;
	size_t n_labels;
	double *bounds;
	size_t n_bounds;
	_Atomic(struct metric *) first;
	struct metric *last;			/* under metrics.lock */
	struct metric **table;			/* under metrics.lock */
	size_t table_size;
	size_t n_series;
};

struct metrics {
	/* registration, series creation and removal; never taken to
	 * render or update */
	pthread_mutex_t lock;
	_Atomic(struct metric_family *) first;
	struct metric_family *last;
	/*
	 * Renders in progress, and the series unlinked meanwhile: a render
	 * may still be walking them, so they are freed only when no render
	 * runs (at the next removal, or at metrics_destroy).
	 */
	atomic_int renders;
	struct metric *dead;
	struct MHD_Daemon *daemon;
	uint16_t port;
};

static const char *const type_names[] = {
	[METRIC_COUNTER] = "counter",
	[METRIC_GAUGE] = "gauge",
	[METRIC_HISTOGRAM] = "histogram",
};

int metrics_create(struct metrics **out)
{
	struct metrics *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	*out = m;
	return 0;
}

static void strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static char **strv_dup(const char *const *v, size_t n)
{
	char **copy = calloc(n + 1, sizeof(*copy));
	size_t i;

	if (!copy)
		return NULL;
	for (i = 0; i < n; i++) {
		copy[i] = strdup(v[i]);
		if (!copy[i]) {
			strv_free(copy, n);
			return NULL;
		}
	}
	return copy;
}

static void series_free(struct metric *s)
{
	strv_free(s->values, s->fam->n_labels);
	free(s->labels);
	free(s->buckets);
	pthread_mutex_destroy(&s->hist_lock);
	free(s);
}

static void family_free(struct metric_family *f)
{
	struct metric *s, *next;

	for (s = atomic_load(&f->first); s; s = next) {
		next = atomic_load(&s->next);
		series_free(s);
	}
	strv_free(f->labels, f->n_labels);
	free(f->table);
	free(f->bounds);
	free(f->name);
	free(f->help);
	free(f);
}

static void free_dead(struct metrics *m)
{
	struct metric *s, *next;

	for (s = m->dead; s; s = next) {
		next = s->dead_next;
		series_free(s);
	}
	m->dead = NULL;
}

void metrics_destroy(struct metrics *m)
{
	struct metric_family *f, *next;

	if (!m)
		return;
	metrics_stop(m);
	for (f = atomic_load(&m->first); f; f = next) {
		next = atomic_load(&f->next);
		family_free(f);
	}
	free_dead(m);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metrics; no ':' for labels */
static bool valid_name(const char *s, bool label)
{
	const char *p;

	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return false;
	if (label && s[0] == '_' && s[1] == '_')	/* reserved */
		return false;
	for (p = s; *p; p++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' ||
		      (c == ':' && !label)))
			return false;
	}
	return true;
}

static size_t strv_len(const char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

static bool same_shape(const struct metric_family *f, enum metric_type type,
		       const char *const *labels, size_t n_labels,
		       const double *bounds, size_t n_bounds)
{
	size_t i;

	if (f->type != type || f->n_labels != n_labels ||
	    f->n_bounds != n_bounds)
		return false;
	for (i = 0; i < n_labels; i++)
		if (strcmp(f->labels[i], labels[i]))
			return false;
	for (i = 0; i < n_bounds; i++)
		if (f->bounds[i] != bounds[i])
			return false;
	return true;
}

static struct metric_family *family_find(struct metrics *m, const char *name)
{
	struct metric_family *f;

	for (f = atomic_load(&m->first); f; f = atomic_load(&f->next))
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

struct metric_family *metrics_family(struct metrics *m, const char *name)
{
	return family_find(m, name);
}

static struct metric_family *family_new(const char *name,
					enum metric_type type,
					const char *help,
					const char *const *labels,
					size_t n_labels, const double *bounds,
					size_t n_bounds)
{
	struct metric_family *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->type = type;
	f->n_labels = n_labels;
	f->n_bounds = n_bounds;
	f->name = strdup(name);
	f->help = strdup(help ? help : "");
	f->labels = strv_dup(labels, n_labels);
	f->table_size = 16;
	f->table = calloc(f->table_size, sizeof(*f->table));
	if (n_bounds) {
		f->bounds = malloc(n_bounds * sizeof(*bounds));
		if (f->bounds)
			memcpy(f->bounds, bounds, n_bounds * sizeof(*bounds));
	}
	if (!f->name || !f->help || !f->labels || !f->table ||
	    (n_bounds && !f->bounds)) {
		family_free(f);
		return NULL;
	}
	return f;
}

static struct metric *series_get_locked(struct metric_family *f,
					const char *const *values);

static struct metric_family *do_register(struct metrics *m, const char *name,
					 enum metric_type type,
					 const char *help,
					 const char *const *labels,
					 const double *bounds, size_t n_bounds)
{
	size_t n_labels = strv_len(labels), i, j;
	struct metric_family *f = NULL;
	int err = 0;

	if (!valid_name(name, false)) {
		pr_err("metrics: invalid metric name \"%s\"", name ? name : "");
		errno = EINVAL;
		return NULL;
	}
	for (i = 0; i < n_labels; i++) {
		bool dup = false;

		for (j = 0; j < i; j++)
			dup |= strcmp(labels[i], labels[j]) == 0;
		if (!valid_name(labels[i], true) || dup ||
		    (type == METRIC_HISTOGRAM && !strcmp(labels[i], "le"))) {
			pr_err("metrics: %s: invalid or repeated label \"%s\"",
			       name, labels[i]);
			errno = EINVAL;
			return NULL;
		}
	}
	for (i = 0; i < n_bounds; i++) {
		if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1])) {
			pr_err("metrics: %s: histogram bounds must be finite and increasing",
			       name);
			errno = EINVAL;
			return NULL;
		}
	}

	pthread_mutex_lock(&m->lock);
	f = family_find(m, name);
	if (f) {
		if (!same_shape(f, type, labels, n_labels, bounds, n_bounds)) {
			pr_err("metrics: %s registered twice with different type or labels",
			       name);
			err = EINVAL;
			f = NULL;
		}
		goto out;
	}
	f = family_new(name, type, help, labels, n_labels, bounds, n_bounds);
	if (!f) {
		err = ENOMEM;
		goto out;
	}
	f->reg = m;
	/* an unlabelled metric exists from the start, at 0 */
	if (!n_labels && !series_get_locked(f, NULL)) {
		family_free(f);
		f = NULL;
		err = ENOMEM;
		goto out;
	}
	if (m->last)
		atomic_store_explicit(&m->last->next, f, memory_order_release);
	else
		atomic_store_explicit(&m->first, f, memory_order_release);
	m->last = f;
out:
	pthread_mutex_unlock(&m->lock);
	if (err)
		errno = err;
	return f;
}

struct metric_family *metrics_register(struct metrics *m, const char *name,
				       enum metric_type type,
				       const char *help,
				       const char *const *labels)
{
	static const double default_bounds[] = {
		0.001, 0.01, 0.1, 1, 10,
	};

	if (type == METRIC_HISTOGRAM)
		return do_register(m, name, type, help, labels, default_bounds,
				   sizeof(default_bounds) /
				   sizeof(default_bounds[0]));
	if (type != METRIC_COUNTER && type != METRIC_GAUGE) {
		errno = EINVAL;
		return NULL;
	}
	return do_register(m, name, type, help, labels, NULL, 0);
}

struct metric_family *metrics_register_histogram(struct metrics *m,
						 const char *name,
						 const char *help,
						 const char *const *labels,
						 const double *bounds,
						 size_t n_bounds)
{
	return do_register(m, name, METRIC_HISTOGRAM, help, labels, bounds,
			   n_bounds);
}

static uint64_t hash_values(const char *const *values, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */
	size_t i;

	for (i = 0; i < n; i++) {
		const unsigned char *p = (const unsigned char *)values[i];

		for (; *p; p++)
			h = (h ^ *p) * 0x100000001b3ULL;
		h = (h ^ 0xff) * 0x100000001b3ULL;	/* separator */
	}
	return h;
}

/*
 * Length of the valid UTF-8 sequence at P (1..4), or 0 when it is not one
 * (stray continuation byte, overlong form, surrogate, beyond U+10FFFF,
 * cut short).
 */
static int utf8_len(const unsigned char *p)
{
	unsigned int c = p[0], need, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i <= need; i++) {
		if ((p[i] & 0xc0) != 0x80)	/* also stops at the NUL */
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return need + 1;
}

/*
 * A label value as the text format wants it: backslash, double quote and
 * line feed escaped (\\, \", \n: the only escapes it has), and valid
 * UTF-8 (a namespace or file name may hold any byte: each byte that does
 * not start a valid sequence becomes U+FFFD).
 */
static char *render_labels(const struct metric_family *f,
			   const char *const *values)
{
	size_t len = 1, i;
	char *s, *p;

	for (i = 0; i < f->n_labels; i++)
		len += strlen(f->labels[i]) + 3 * strlen(values[i]) + 4;
	s = p = malloc(len);
	if (!s)
		return NULL;
	for (i = 0; i < f->n_labels; i++) {
		const unsigned char *v;
		int n;

		if (i)
			*p++ = ',';
		p = stpcpy(p, f->labels[i]);
		*p++ = '=';
		*p++ = '"';
		for (v = (const unsigned char *)values[i]; *v; v += n) {
			n = utf8_len(v);
			if (*v == '\\' || *v == '"') {
				*p++ = '\\';
				*p++ = *v;
			} else if (*v == '\n') {
				*p++ = '\\';
				*p++ = 'n';
			} else if (n) {
				memcpy(p, v, n);
				p += n;
			} else {
				p = stpcpy(p, "\xef\xbf\xbd");	/* U+FFFD */
				n = 1;
			}
		}
		*p++ = '"';
	}
	*p = '\0';
	return s;
}

static int table_grow(struct metric_family *f)
{
	size_t size = f->table_size * 2, i;
	struct metric **t = calloc(size, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (i = 0; i < f->table_size; i++) {
		struct metric *s = f->table[i], *next;

		for (; s; s = next) {
			next = s->hash_next;
			s->hash_next = t[s->hash & (size - 1)];
			t[s->hash & (size - 1)] = s;
		}
	}
	free(f->table);
	f->table = t;
	f->table_size = size;
	return 0;
}

static bool values_equal(const struct metric *s, const char *const *values)
{
	size_t i;

	for (i = 0; i < s->fam->n_labels; i++)
		if (strcmp(s->values[i], values[i]))
			return false;
	return true;
}

static struct metric *series_get_locked(struct metric_family *f,
					const char *const *values)
{
	uint64_t h = hash_values(values, f->n_labels);
	struct metric *s;
	size_t b;

	for (s = f->table[h & (f->table_size - 1)]; s; s = s->hash_next)
		if (s->hash == h && values_equal(s, values))
			return s;
	if (f->n_series >= 2 * f->table_size && table_grow(f))
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->fam = f;
	s->hash = h;
	pthread_mutex_init(&s->hist_lock, NULL);
	s->values = strv_dup(values, f->n_labels);
	s->labels = s->values ? render_labels(f, values) : NULL;
	if (f->type == METRIC_HISTOGRAM)
		s->buckets = calloc(f->n_bounds + 1, sizeof(*s->buckets));
	if (!s->values || !s->labels ||
	    (f->type == METRIC_HISTOGRAM && !s->buckets)) {
		series_free(s);
		return NULL;
	}
	b = h & (f->table_size - 1);
	s->hash_next = f->table[b];
	f->table[b] = s;
	f->n_series++;
	/* publish only when complete: the renderer reads without the lock */
	if (f->last)
		atomic_store_explicit(&f->last->next, s, memory_order_release);
	else
		atomic_store_explicit(&f->first, s, memory_order_release);
	f->last = s;
	return s;
}

static void hash_unlink(struct metric_family *f, struct metric *s)
{
	struct metric **pp = &f->table[s->hash & (f->table_size - 1)];

	for (; *pp; pp = &(*pp)->hash_next) {
		if (*pp == s) {
			*pp = s->hash_next;
			return;
		}
	}
}

static ssize_t label_index(const struct metric_family *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->n_labels; i++)
		if (!strcmp(f->labels[i], name))
			return i;
	return -1;
}

size_t metrics_forget_label(struct metrics *m, const char *label,
			    const char *value)
{
	struct metric_family *f;
	size_t n = 0;

	pthread_mutex_lock(&m->lock);
	for (f = atomic_load(&m->first); f; f = atomic_load(&f->next)) {
		ssize_t k = label_index(f, label);
		struct metric *prev = NULL, *s, *next;

		if (k < 0)
			continue;
		for (s = atomic_load(&f->first); s; s = next) {
			next = atomic_load(&s->next);
			if (strcmp(s->values[k], value)) {
				prev = s;
				continue;
			}
			/* a render at S still finds its way on via S->next */
			if (prev)
				atomic_store(&prev->next, next);
			else
				atomic_store(&f->first, next);
			if (f->last == s)
				f->last = prev;
			hash_unlink(f, s);
			f->n_series--;
			s->dead_next = m->dead;
			m->dead = s;
			n++;
		}
	}
	/* pairs with the fence in metrics_render: a render that starts now
	 * cannot reach what was unlinked above */
	atomic_thread_fence(memory_order_seq_cst);
	if (!atomic_load(&m->renders))
		free_dead(m);
	pthread_mutex_unlock(&m->lock);
	return n;
}

size_t metrics_forget_netns(struct metrics *m, const char *netns)
{
	return metrics_forget_label(m, "netns", netns);
}

struct metric *metric_series(struct metric_family *f,
			     const char *const *values)
{
	struct metric *s;

	if (!f || strv_len(values) != f->n_labels) {
		errno = EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&f->reg->lock);
	s = series_get_locked(f, values);
	pthread_mutex_unlock(&f->reg->lock);
	if (!s)
		errno = ENOMEM;
	return s;
}

struct metric *metric_get(struct metric_family *f, ...)
{
	const char *values[16];
	const char *v;
	size_t n = 0;
	va_list ap;

	va_start(ap, f);
	while ((v = va_arg(ap, const char *))) {
		if (n + 1 >= sizeof(values) / sizeof(values[0])) {
			va_end(ap);
			errno = EINVAL;
			return NULL;
		}
		values[n++] = v;
	}
	va_end(ap);
	values[n] = NULL;
	return metric_series(f, values);
}

void metric_add(struct metric *s, uint64_t v)
{
	atomic_fetch_add_explicit(&s->value, v, memory_order_relaxed);
}

void metric_inc(struct metric *s)
{
	metric_add(s, 1);
}

void metric_counter_set(struct metric *s, uint64_t total)
{
	atomic_store_explicit(&s->value, total, memory_order_relaxed);
}

static uint64_t double_bits(double v)
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	return u;
}

static double bits_double(uint64_t u)
{
	double v;

	memcpy(&v, &u, sizeof(v));
	return v;
}

void metric_set(struct metric *s, double v)
{
	atomic_store_explicit(&s->value, double_bits(v), memory_order_relaxed);
}

void metric_gauge_add(struct metric *s, double delta)
{
	uint64_t old = atomic_load_explicit(&s->value, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(
			&s->value, &old, double_bits(bits_double(old) + delta),
			memory_order_relaxed, memory_order_relaxed))
		;
}

void metric_observe(struct metric *s, double v)
{
	const struct metric_family *f = s->fam;
	size_t i = 0;

	while (i < f->n_bounds && v > f->bounds[i])
		i++;
	pthread_mutex_lock(&s->hist_lock);
	s->buckets[i]++;
	s->count++;
	s->sum += v;
	pthread_mutex_unlock(&s->hist_lock);
}

int metric_histogram_set(struct metric *s, const uint64_t *buckets,
			 size_t n_buckets, uint64_t count, double sum)
{
	const struct metric_family *f = s->fam;

	if (f->type != METRIC_HISTOGRAM || n_buckets != f->n_bounds + 1)
		return -EINVAL;
	pthread_mutex_lock(&s->hist_lock);
	memcpy(s->buckets, buckets, n_buckets * sizeof(*buckets));
	s->count = count;
	s->sum = sum;
	pthread_mutex_unlock(&s->hist_lock);
	return 0;
}

uint64_t metric_counter_value(const struct metric *s)
{
	return atomic_load_explicit(&((struct metric *)s)->value,
				    memory_order_relaxed);
}

double metric_gauge_value(const struct metric *s)
{
	return bits_double(metric_counter_value(s));
}

/* ---- rendering ---- */

struct text {
	char *p;
	size_t len, cap;
	bool oom;
};

__attribute__((format(printf, 2, 3)))
static void text_printf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->oom = true;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += n;
			return;
		}
		size_t cap = t->cap * 2 + n;
		char *p = realloc(t->p, cap);

		if (!p) {
			t->oom = true;
			return;
		}
		t->p = p;
		t->cap = cap;
	}
}

/* Go's float text as Prometheus parses it: shortest exact, NaN, +Inf. */
static void format_double(char *buf, size_t size, double v)
{
	if (isnan(v)) {
		snprintf(buf, size, "NaN");
	} else if (isinf(v)) {
		snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
	} else {
		snprintf(buf, size, "%.15g", v);
		if (strtod(buf, NULL) != v)
			snprintf(buf, size, "%.17g", v);
	}
}

/* HELP text escaping: backslash and newline. */
static void text_help(struct text *t, const char *help)
{
	const char *p;

	for (p = help; *p; p++) {
		if (*p == '\\')
			text_printf(t, "\\\\");
		else if (*p == '\n')
			text_printf(t, "\\n");
		else
			text_printf(t, "%c", *p);
	}
}

static void render_histogram(struct text *t, const struct metric_family *f,
			     struct metric *s, uint64_t *buckets)
{
	const char *sep = *s->labels ? "," : "";
	uint64_t count, cum = 0;
	char num[40];
	double sum;
	size_t i;

	/* one consistent snapshot: buckets, count and sum agree */
	pthread_mutex_lock(&s->hist_lock);
	memcpy(buckets, s->buckets, (f->n_bounds + 1) * sizeof(*buckets));
	count = s->count;
	sum = s->sum;
	pthread_mutex_unlock(&s->hist_lock);

	for (i = 0; i <= f->n_bounds; i++) {
		cum += buckets[i];
		if (i < f->n_bounds)
			format_double(num, sizeof(num), f->bounds[i]);
		else
			snprintf(num, sizeof(num), "+Inf");
		text_printf(t, "%s_bucket{%s%sle=\"%s\"} %llu\n", f->name,
			    s->labels, sep, num, (unsigned long long)cum);
	}
	format_double(num, sizeof(num), sum);
	text_printf(t, "%s_sum%s%s%s %s\n", f->name, *s->labels ? "{" : "",
		    s->labels, *s->labels ? "}" : "", num);
	text_printf(t, "%s_count%s%s%s %llu\n", f->name,
		    *s->labels ? "{" : "", s->labels, *s->labels ? "}" : "",
		    (unsigned long long)count);
}

int metrics_render(struct metrics *m, char **out, size_t *out_len)
{
	struct text t = { .cap = 16384 };
	struct metric_family *f;
	uint64_t *buckets = NULL;
	struct metric *s;
	char num[40];

	*out = NULL;
	*out_len = 0;
	t.p = malloc(t.cap);
	if (!t.p)
		return -ENOMEM;
	t.p[0] = '\0';
	/* see metrics_forget_label */
	atomic_fetch_add(&m->renders, 1);
	atomic_thread_fence(memory_order_seq_cst);
	for (f = atomic_load_explicit(&m->first, memory_order_acquire); f;
	     f = atomic_load_explicit(&f->next, memory_order_acquire)) {
		text_printf(&t, "# HELP %s ", f->name);
		text_help(&t, f->help);
		text_printf(&t, "\n# TYPE %s %s\n", f->name,
			    type_names[f->type]);
		if (f->type == METRIC_HISTOGRAM) {
			free(buckets);
			buckets = calloc(f->n_bounds + 1, sizeof(*buckets));
			if (!buckets) {
				t.oom = true;
				break;
			}
		}
		for (s = atomic_load_explicit(&f->first, memory_order_acquire);
		     s; s = atomic_load_explicit(&s->next,
						 memory_order_acquire)) {
			const char *lb = *s->labels ? "{" : "";
			const char *rb = *s->labels ? "}" : "";

			switch (f->type) {
			case METRIC_COUNTER:
				text_printf(&t, "%s%s%s%s %llu\n", f->name, lb,
					    s->labels, rb,
					    (unsigned long long)
					    metric_counter_value(s));
				break;
			case METRIC_GAUGE:
				format_double(num, sizeof(num),
					      metric_gauge_value(s));
				text_printf(&t, "%s%s%s%s %s\n", f->name, lb,
					    s->labels, rb, num);
				break;
			case METRIC_HISTOGRAM:
				render_histogram(&t, f, s, buckets);
				break;
			}
		}
	}
	free(buckets);
	atomic_fetch_sub(&m->renders, 1);
	if (t.oom) {
		free(t.p);
		return -ENOMEM;
	}
	*out = t.p;
	*out_len = t.len;
	return 0;
}

/* ---- HTTP ---- */

int metrics_parse_addr_quiet(const char *addr, struct sockaddr_storage *ss,
			     socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_s;
	unsigned long port;
	char *end;
	bool v6 = false;

	memset(ss, 0, sizeof(*ss));
	if (!addr)
		goto bad;
	if (*addr >= '0' && *addr <= '9' && !strpbrk(addr, ".:[")) {
		/* a bare port: on the default host, loopback */
		strcpy(host, "127.0.0.1");
		port_s = addr;
	} else if (hostport_split(addr, host, sizeof(host), &port_s, &v6)) {
		goto bad;
	}
	if (!*port_s || *port_s < '0' || *port_s > '9')
		goto bad;
	errno = 0;
	port = strtoul(port_s, &end, 10);
	if (errno || *end || port > 65535)
		goto bad;

	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			goto bad;
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		if (!*host || !strcmp(host, "*"))
			s4->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (!strcmp(host, "localhost"))
			s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		else if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			goto bad;
		*len = sizeof(*s4);
	}
	return 0;
bad:
	return -EINVAL;
}

int metrics_parse_addr(const char *addr, struct sockaddr_storage *ss,
		       socklen_t *len)
{
	int ret = metrics_parse_addr_quiet(addr, ss, len);

	if (ret)
		pr_err("metrics: invalid address \"%s\": expected HOST:PORT, e.g. 127.0.0.1:9999 or [::1]:9999",
		       addr ? addr : "");
	return ret;
}

/*
 * libmicrohttpd's messages, at most one a second: a client that opens
 * connection after connection past the limits must not flood the log.
 * Only the server's thread calls this.
 */
__attribute__((format(printf, 2, 0)))
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	static time_t last;
	static unsigned long suppressed;
	time_t now = time(NULL);
	char msg[512];

	(void)cls;
	if (now == last) {
		suppressed++;
		return;
	}
	last = now;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (suppressed)
		pr_warn("metrics: http: %s (%lu more messages suppressed)",
			msg, suppressed);
	else
		pr_warn("metrics: http: %s", msg);
	suppressed = 0;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int code,
			     char *body, size_t len, bool owned)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, body, owned ?
					       MHD_RESPMEM_MUST_FREE :
					       MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		if (owned)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				code == MHD_HTTP_OK ? METRICS_CONTENT_TYPE :
				"text/plain; charset=utf-8");
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
					"GET, HEAD");
	ret = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result metrics_http(void *cls, struct MHD_Connection *conn,
				    const char *url, const char *method,
				    const char *version,
				    const char *upload_data,
				    size_t *upload_data_size, void **req_cls)
{
	static char not_found[] = "not found: the metrics are at /metrics\n";
	static char not_allowed[] = "method not allowed\n";
	static char no_memory[] = "out of memory\n";
	struct metrics *m = cls;
	size_t len;
	char *text;

	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, not_allowed,
			     sizeof(not_allowed) - 1, false);
	if (strcmp(url, METRICS_PATH))
		return reply(conn, MHD_HTTP_NOT_FOUND, not_found,
			     sizeof(not_found) - 1, false);
	if (metrics_render(m, &text, &len))
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, no_memory,
			     sizeof(no_memory) - 1, false);
	return reply(conn, MHD_HTTP_OK, text, len, true);
}

static int listen_on(const struct sockaddr_storage *ss, socklen_t len,
		     uint16_t *port)
{
	int fd, one = 1, zero = 0;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a restart must not wait for the old sockets' TIME_WAIT */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* [::] takes IPv4 too, whatever net.ipv6.bindv6only says */
	if (ss->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr))
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (const struct sockaddr *)ss, len) ||
	    listen(fd, METRICS_LISTEN_BACKLOG)) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	if (ss->ss_family == AF_INET6) {
		struct sockaddr_in6 a;
		socklen_t l = sizeof(a);

		getsockname(fd, (struct sockaddr *)&a, &l);
		*port = ntohs(a.sin6_port);
	} else {
		struct sockaddr_in a;
		socklen_t l = sizeof(a);

		getsockname(fd, (struct sockaddr *)&a, &l);
		*port = ntohs(a.sin_port);
	}
	return fd;
}

int metrics_serve(struct metrics *m, const char *addr)
{
	struct sockaddr_storage ss;
	sigset_t all, old;
	socklen_t len;
	uint16_t port = 0;
	int fd, ret;

	if (!addr)
		addr = METRICS_DEFAULT_ADDR;
	if (m->daemon)
		return -EALREADY;
	ret = metrics_parse_addr(addr, &ss, &len);
	if (ret)
		return ret;
	fd = listen_on(&ss, len, &port);
	if (fd < 0) {
		pr_err("metrics: cannot listen on %s: %s%s", addr,
		       strerror(-fd), fd == -EADDRINUSE ?
		       " (another process has this port: choose another metrics address)" :
		       "");
		return fd;
	}
	/* the server thread must not take the agent's signals */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/*
	 * One thread polls every connection (epoll): a client that sends
	 * its request byte by byte holds a connection slot, never the
	 * thread.  Slots are bounded overall and per client address, a
	 * request's headers by the connection's memory pool, and a silent
	 * connection is closed after a timeout (see docs/outputs.md).
	 */
	m->daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
		MHD_USE_ERROR_LOG |
		(ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
		0, NULL, NULL, metrics_http, m,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, m,
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_CONNECTION_LIMIT,
		(unsigned int)METRICS_MAX_CONNECTIONS,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		(unsigned int)METRICS_MAX_CONNECTIONS_PER_IP,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)METRICS_CONNECTION_MEMORY,
		MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned int)METRICS_CONNECTION_TIMEOUT_S,
		MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!m->daemon) {
		close(fd);
		pr_err("metrics: cannot start the HTTP server on %s", addr);
		return -EIO;
	}
	m->port = port;
	pr_debug("metrics: serving http://%s%s", addr, METRICS_PATH);
	return 0;
}

uint16_t metrics_port(const struct metrics *m)
{
	return m->daemon ? m->port : 0;
}

void metrics_stop(struct metrics *m)
{
	if (!m->daemon)
		return;
	MHD_stop_daemon(m->daemon);	/* closes the listen socket too */
	m->daemon = NULL;
	m->port = 0;
}

int metrics_register_flowctl(struct metrics *m, struct flowctl_metrics *f)
{
	/* the original's label names (camelCase), and ours */
	static const char *const orig_pair[] = {
		"ingressIfindex", "egressIfindex", NULL,
	};
	static const char *const pair[] = {
		"ingress_ifindex", "egress_ifindex", "netns", NULL,
	};
	static const char *const output[] = { "output", NULL };
	static const char *const collector[] = { "collector", NULL };
	static const char *const netns[] = { "netns", NULL };
	static const char *const hook[] = { "hook", "reason", NULL };
	static const char *const dropped[] = { "output", "reason", NULL };
	static const char *const version[] = { "version", NULL };
	static const double drain_bounds[] = {
		0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
		0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
	};
	double lat_bounds[FLOW_LAT_N_BOUNDS];
	struct metric *info;
	size_t nb = 0;

#define FLOW_LAT_SECONDS(ns)	lat_bounds[nb++] = (ns) / 1e9;
	FLOW_LAT_BOUNDS(FLOW_LAT_SECONDS)
#undef FLOW_LAT_SECONDS

	memset(f, 0, sizeof(*f));
#define REG(field, name, type, help, labels)				\
	do {								\
		f->field = metrics_register(m, name, type, help, labels); \
		if (!f->field)						\
			return -errno;					\
	} while (0)

	/* the original's five, exactly: gauges, two labels */
	REG(orig_total_pkts, "linux_flow_exporter_total_pkts", METRIC_GAUGE,
	    "Packets metered per interface pair, every namespace (the original's gauge; see flowctl_packets_total)",
	    orig_pair);
	REG(orig_total_bytes, "linux_flow_exporter_total_bytes", METRIC_GAUGE,
	    "Bytes metered per interface pair, every namespace (the original's gauge; see flowctl_bytes_total)",
	    orig_pair);
	REG(orig_overflow_pkts, "linux_flow_exporter_overflow_pkts",
	    METRIC_GAUGE,
	    "Packets counted while the flow table was full (the original's gauge; see flowctl_overflow_packets_total)",
	    orig_pair);
	REG(orig_overflow_bytes, "linux_flow_exporter_overflow_bytes",
	    METRIC_GAUGE,
	    "Bytes counted while the flow table was full (the original's gauge; see flowctl_overflow_bytes_total)",
	    orig_pair);
	REG(orig_total_latency, "linux_flow_exporter_total_latency_nanoseconds",
	    METRIC_GAUGE,
	    "Sum of the forwarding latencies measured per interface pair (meter attach --latency; the original's gauge; see flowctl_forwarding_latency_seconds)",
	    orig_pair);
	REG(total_pkts, "flowctl_packets_total", METRIC_COUNTER,
	    "Packets metered, per ingress/egress interface pair and namespace",
	    pair);
	REG(total_bytes, "flowctl_bytes_total", METRIC_COUNTER,
	    "Bytes (IP header and payload) metered, per ingress/egress interface pair and namespace",
	    pair);
	REG(overflow_pkts, "flowctl_overflow_packets_total", METRIC_COUNTER,
	    "Packets counted while the flow table was full (exported as lack-of-resources records)",
	    pair);
	REG(overflow_bytes, "flowctl_overflow_bytes_total", METRIC_COUNTER,
	    "Bytes counted while the flow table was full (exported as lack-of-resources records)",
	    pair);
	REG(flows_exported, "flowctl_flows_exported_total", METRIC_COUNTER,
	    "Flow records handed to each output", output);
	REG(ipfix_messages, "flowctl_ipfix_messages_total", METRIC_COUNTER,
	    "IPFIX messages sent to each collector", collector);
	REG(ipfix_send_errors, "flowctl_ipfix_send_errors_total",
	    METRIC_COUNTER, "Failed IPFIX sends to each collector", collector);
	REG(ipfix_not_sent, "flowctl_ipfix_records_not_sent_total",
	    METRIC_COUNTER,
	    "Flow records that could not be sent to each collector", collector);
	REG(cache_flows, "flowctl_flow_cache_flows", METRIC_GAUGE,
	    "Flows held in the user-space flow cache", NULL);
	REG(hook_failures, "flowctl_hook_failures_total", METRIC_COUNTER,
	    "Flow log hook runs that failed (the batch was passed on unmodified)",
	    hook);
	REG(unparsed_packets, "flowctl_unparsed_packets_total",
	    METRIC_COUNTER,
	    "Packets the meter could not parse (counted, never dropped)", netns);
	REG(log_write_errors, "flowctl_log_write_errors_total",
	    METRIC_COUNTER, "Failed writes to each flow log", output);
	REG(log_dropped, "flowctl_log_records_dropped_total", METRIC_COUNTER,
	    "Flow records a flow log could not write (queue_full, write_error)",
	    dropped);
	REG(build_info, "flowctl_build_info", METRIC_GAUGE,
	    "Always 1; the version is in the label", version);
#undef REG
	f->drain_duration = metrics_register_histogram(
		m, "flowctl_drain_duration_seconds",
		"Time to drain one network namespace's flow table", netns,
		drain_bounds, sizeof(drain_bounds) / sizeof(drain_bounds[0]));
	if (!f->drain_duration)
		return -errno;
	f->latency = metrics_register_histogram(
		m, "flowctl_forwarding_latency_seconds",
		"Time a forwarded packet spent between the ingress and egress hooks of the router (meter attach --latency)",
		pair, lat_bounds, nb);
	if (!f->latency)
		return -errno;
	info = metric_get(f->build_info, FLOWCTL_VERSION, NULL);
	if (!info)
		return -errno;
	metric_set(info, 1);
	return 0;
}
