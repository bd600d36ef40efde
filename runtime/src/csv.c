/*===- csv.c - Loading CSV data sets --------------------------------------===*
 *
 * Numbers separated by commas, one sample per line, as numpy.savetxt and
 * pandas write them. A field is a decimal number (no quoting, no nan or
 * inf), optionally surrounded by spaces or tabs. The first line is a header
 * when one of its fields is not a number; blank lines are skipped; CRLF line
 * ends, a missing final newline and a UTF-8 byte order mark are accepted.
 * The file is read whole (raw or gzip, like IDX files), then parsed twice:
 * once to count the rows, once to convert them. For a model of described
 * inputs, the feature columns fill the packed row's slots in order, and an
 * integer input's cells become int32_t ids (bit patterns in the row).
 *
 *===----------------------------------------------------------------------===*/
#include "dataset.h"
#include "input.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/// The largest CSV text read: far more than SORA_MAX_TENSOR_FLOATS numbers
/// need, and a guard against reading an endless stream.
#define CSV_MAX_BYTES ((int64_t)1 << 36)

/// Characters of a bad field quoted in a message.
enum { QUOTE_MAX = 40 };

/// One line of the text, without its line end.
typedef struct csv_line {
  const char *begin, *end;
  int64_t number; // from 1
} csv_line;

/// Walks the text line by line.
typedef struct csv_cursor {
  const char *p, *end;
  int64_t number; // of the line last returned
} csv_cursor;

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/// The next line that is not blank; false at the end of the text.
static bool next_line(csv_cursor *c, csv_line *line) {
  while (c->p < c->end) {
    const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    const char *line_end = nl ? nl : c->end;
    line->begin = c->p;
    line->end = line_end;
    line->number = ++c->number;
    c->p = nl ? nl + 1 : c->end;
    for (const char *q = line->begin; q < line->end; ++q)
      if (!is_space(*q))
        return true;
  }
  return false;
}

/// Fields in a line: one more than its commas.
static int64_t count_fields(const csv_line *line) {
  int64_t n = 1;
  for (const char *q = line->begin; q < line->end; ++q)
    n += *q == ',';
  return n;
}

/// The end of the field starting at `p` (its comma or the line's end).
static const char *field_end(const char *p, const char *end) {
  const char *comma = memchr(p, ',', (size_t)(end - p));
  return comma ? comma : end;
}

/// Strips the spaces around [*b, *e).
static void trim(const char **b, const char **e) {
  while (*b < *e && is_space(**b))
    ++*b;
  while (*e > *b && is_space((*e)[-1]))
    --*e;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/// The length of the decimal number at the start of [p, end), 0 if there is
/// none: [+-] (digits [. [digits]] | . digits) [(e|E) [+-] digits].
static size_t number_length(const char *p, const char *end) {
  const char *q = p;
  if (q < end && (*q == '+' || *q == '-'))
    ++q;
  const char *digits = q;
  while (q < end && is_digit(*q))
    ++q;
  bool whole = q > digits;
  bool fraction = false;
  if (q < end && *q == '.') {
    ++q;
    const char *frac = q;
    while (q < end && is_digit(*q))
      ++q;
    fraction = q > frac;
  }
  if (!whole && !fraction)
    return 0;
  if (q < end && (*q == 'e' || *q == 'E')) {
    const char *exp = q + 1;
    if (exp < end && (*exp == '+' || *exp == '-'))
      ++exp;
    const char *exp_digits = exp;
    while (exp < end && is_digit(*exp))
      ++exp;
    if (exp == exp_digits)
      return 0; // "1e" is no number
    q = exp;
  }
  return (size_t)(q - p);
}

typedef enum {
  FIELD_OK,
  FIELD_EMPTY,
  FIELD_NOT_NUMBER,
  FIELD_RANGE
} field_kind;

/// Parses the trimmed field [b, e) as a whole. The text is NUL-terminated
/// and a field ends at a comma, a line end or the NUL, so strtod stops
/// where the field does.
static field_kind parse_field(const char *b, const char *e, double *out) {
  if (b == e)
    return FIELD_EMPTY;
  size_t len = number_length(b, e);
  if (len == 0 || b + len != e)
    return FIELD_NOT_NUMBER;
  char *stop;
  double v = strtod(b, &stop);
  if (stop != e)
    return FIELD_NOT_NUMBER; // a locale whose decimal point is not '.'
  if (!isfinite(v))
    return FIELD_RANGE;
  *out = v;
  return FIELD_OK;
}

/// True if the line is a header: a field of it is neither empty nor a number.
static bool is_header(const csv_line *line) {
  for (const char *p = line->begin; p <= line->end;) {
    const char *b = p, *e = field_end(p, line->end);
    p = e + 1;
    trim(&b, &e);
    double v;
    if (parse_field(b, e, &v) == FIELD_NOT_NUMBER)
      return true;
  }
  return false;
}

/// Sets the error for a field that is not a finite number.
static sora_status bad_field(const char *path, int64_t line, int64_t column,
                             field_kind kind, const char *b, const char *e) {
  int len = e - b > QUOTE_MAX ? QUOTE_MAX : (int)(e - b);
  const char *more = e - b > QUOTE_MAX ? "..." : "";
  if (kind == FIELD_EMPTY)
    return sora_fail(SORA_ERR_FORMAT, "%s:%lld: column %lld is empty", path,
                     (long long)line, (long long)column);
  if (kind == FIELD_RANGE)
    return sora_fail(SORA_ERR_FORMAT,
                     "%s:%lld: column %lld ('%.*s%s') is out of range", path,
                     (long long)line, (long long)column, len, b, more);
  return sora_fail(SORA_ERR_FORMAT,
                   "%s:%lld: column %lld ('%.*s%s') is not a number", path,
                   (long long)line, (long long)column, len, b, more);
}

/// The model's inputs the feature columns fill (none: all floats).
typedef struct csv_inputs {
  int64_t count;
  const sora_input_desc *inputs;
} csv_inputs;

/// The label columns of a spec: several, one, or none (its input is its
/// own target).
typedef struct csv_labels {
  int64_t count;
  const int64_t *columns;
} csv_labels;

static csv_labels labels_of(const sora_data_spec *spec) {
  if (spec->target == SORA_TARGET_INPUT)
    return (csv_labels){0, NULL};
  if (spec->num_label_columns > 0)
    return (csv_labels){spec->num_label_columns, spec->label_columns};
  return (csv_labels){1, &spec->label_column};
}

/// The place of `column` among the label columns, -1 if it is a feature.
static int64_t label_index(const csv_labels *labels, int64_t column) {
  for (int64_t k = 0; k < labels->count; ++k)
    if (labels->columns[k] == column)
      return k;
  return -1;
}

/// Stores the whole number `v` of an integer input's cell as an int32_t id
/// in slot `*x` (its bit pattern; never converted to a float value).
static sora_status store_id(const char *path, int64_t line, int64_t column,
                            const sora_input_desc *in, double v, const char *b,
                            int len, float *x) {
  const char *name = in->name ? in->name : "<unnamed>";
  if (v != floor(v))
    return sora_fail(SORA_ERR_FORMAT,
                     "%s:%lld: column %lld ('%.*s') of input '%s' is not a "
                     "whole number (the input holds integer ids)",
                     path, (long long)line, (long long)column, len, b, name);
  double limit = in->id_limit > 0 ? (double)in->id_limit : 2147483648.0;
  if (in->id_limit > 0 && !(v >= 0 && v < limit))
    return sora_fail(SORA_ERR_FORMAT,
                     "%s:%lld: column %lld ('%.*s') of input '%s': id outside "
                     "[0, %lld)",
                     path, (long long)line, (long long)column, len, b, name,
                     (long long)in->id_limit);
  if (!(v >= -limit && v < limit))
    return sora_fail(SORA_ERR_FORMAT,
                     "%s:%lld: column %lld ('%.*s') of input '%s' does not "
                     "fit a 32-bit integer id",
                     path, (long long)line, (long long)column, len, b, name);
  int32_t id = (int32_t)v;
  memcpy(x, &id, sizeof id);
  return SORA_OK;
}

/// Converts one data line into row `row` of `d`. The line has `columns`
/// fields and, with inputs, as many features as they have slots, both
/// checked by the caller.
static sora_status convert_line(const sora_data_spec *spec,
                                const csv_labels *labels,
                                const csv_inputs *inputs, const char *path,
                                const csv_line *line, int64_t row,
                                sora_dataset *d) {
  float *x = d->x + row * d->sample_size;
  float *y = d->y + row * d->label_size;
  const sora_input_desc *in = inputs->count > 0 ? inputs->inputs : NULL;
  int64_t slot = 0; // of x in the row
  int64_t column = 0;
  for (const char *p = line->begin; p <= line->end; ++column) {
    const char *b = p, *e = field_end(p, line->end);
    p = e + 1;
    trim(&b, &e);
    double v;
    field_kind kind = parse_field(b, e, &v);
    if (kind != FIELD_OK)
      return bad_field(path, line->number, column, kind, b, e);
    int len = e - b > QUOTE_MAX ? QUOTE_MAX : (int)(e - b);
    int64_t label = label_index(labels, column);

    if (label < 0 && in) {
      // The inputs tile the row: step to the one that holds this slot.
      while (slot >= in->offset + in->size)
        ++in;
      ++slot;
    }
    if (label < 0 && in && in->integer) {
      sora_status status =
          store_id(path, line->number, column, in, v, b, len, x++);
      if (status != SORA_OK)
        return status;
    } else if (label < 0) {
      double scaled = v * spec->scale;
      if (!(fabs(scaled) <= FLT_MAX)) // converting it would be undefined
        return sora_fail(SORA_ERR_FORMAT,
                         "%s:%lld: column %lld ('%.*s') times scale %g does "
                         "not fit a 32-bit float",
                         path, (long long)line->number, (long long)column, len,
                         b, spec->scale);
      *x++ = (float)scaled;
    } else if (spec->onehot == 0) {
      if (!(fabs(v) <= FLT_MAX))
        return sora_fail(SORA_ERR_FORMAT,
                         "%s:%lld: label '%.*s' does not fit a 32-bit float",
                         path, (long long)line->number, len, b);
      y[label] = (float)v;
    } else {
      if (!(v >= 0 && v < (double)spec->onehot && v == floor(v)))
        return sora_fail(SORA_ERR_FORMAT,
                         "%s:%lld: label '%.*s' (column %lld) is not a whole "
                         "number in [0, %lld) as onehot: %lld requires",
                         path, (long long)line->number, len, b,
                         (long long)column, (long long)spec->onehot,
                         (long long)spec->onehot);
      y[(int64_t)v] = 1.0f; // the rest of the row is zeroed
    }
  }
  return SORA_OK;
}

sora_status sora_dataset_load_csv(const sora_data_spec *spec,
                                  const char *data_dir, const char *source_dir,
                                  sora_dataset *out) {
  return sora_csv_load_inputs(spec, 0, NULL, data_dir, source_dir, out);
}

sora_status sora_csv_load_inputs(const sora_data_spec *spec, int64_t num_inputs,
                                 const sora_input_desc *inputs,
                                 const char *data_dir, const char *source_dir,
                                 sora_dataset *out) {
  csv_inputs in = {num_inputs, inputs};
  int64_t slots = 0;
  sora_status status = sora_loader_start(spec, SORA_DATA_CSV, out);
  if (status != SORA_OK)
    return status;
  csv_labels labels = labels_of(spec);
  status =
      sora_check_inputs("csv source", spec->path, num_inputs, inputs, &slots);
  if (status != SORA_OK)
    return status;
  char path[SORA_PATH_MAX];
  status =
      sora_find_data_file(spec->path, data_dir, source_dir, path, sizeof path);
  if (status != SORA_OK)
    return status;
  char *text;
  int64_t size;
  status = sora_read_whole_file(path, "csv", CSV_MAX_BYTES, &text, &size);
  if (status != SORA_OK)
    return status;

  sora_dataset d = {0};
  csv_cursor cursor = {text, text + size, 0};
  if (size >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
    cursor.p += 3; // a UTF-8 byte order mark, as Excel writes

  // Pass 1: the first line sets the columns; count the data lines and check
  // that each has as many columns, before anything is allocated: the
  // memory then stays proportional to the text (a 200 KB file with a long
  // first line and many short ones made the loader allocate 8 GiB).
  csv_line first = {NULL, NULL, 0};
  if (!next_line(&cursor, &first)) {
    status = sora_fail(SORA_ERR_FORMAT, "csv file '%s' is empty", path);
    goto done;
  }
  int64_t columns = count_fields(&first);
  bool header = is_header(&first);
  int64_t rows = header ? 0 : 1;
  csv_line line = {NULL, NULL, 0};
  while (next_line(&cursor, &line)) {
    int64_t fields = count_fields(&line);
    if (fields != columns) {
      status = sora_fail(SORA_ERR_FORMAT,
                         "%s:%lld: %lld columns, but line %lld has %lld", path,
                         (long long)line.number, (long long)fields,
                         (long long)first.number, (long long)columns);
      goto done;
    }
    ++rows;
  }
  if (rows == 0) {
    status = sora_fail(SORA_ERR_FORMAT, "csv file '%s' has no data rows", path);
    goto done;
  }
  for (int64_t k = 0; k < labels.count; ++k) {
    int64_t c = labels.columns[k];
    const char *name =
        spec->num_label_columns > 0 ? "label column" : "label_column";
    if (c < 0 || c >= columns) {
      status = sora_fail(SORA_ERR_FORMAT,
                         "%s:%lld: %s %lld does not exist: the line "
                         "has %lld columns (counted from 0)",
                         path, (long long)first.number, name, (long long)c,
                         (long long)columns);
      goto done;
    }
    if (label_index(&labels, c) != k) {
      status =
          sora_fail(SORA_ERR_ARGUMENT, "'%s': label column %lld is named twice",
                    path, (long long)c);
      goto done;
    }
  }
  if (columns <= labels.count) {
    status =
        sora_fail(SORA_ERR_FORMAT,
                  "%s:%lld: only the label column%s: no "
                  "features",
                  path, (long long)first.number, labels.count > 1 ? "s" : "");
    goto done;
  }
  int64_t features = columns - labels.count;

  if (num_inputs > 0 && features != slots) {
    status = sora_fail(SORA_ERR_FORMAT,
                       "%s:%lld: %lld feature columns, but the model's inputs "
                       "take %lld values per sample",
                       path, (long long)first.number, (long long)features,
                       (long long)slots);
    goto done;
  }

  d.count = rows;
  d.sample_size = features;
  d.label_size = spec->onehot > 0   ? spec->onehot
                 : labels.count > 0 ? labels.count
                                    : 1; // source.c then shares x
  int64_t x_floats, y_floats;
  if (!sora_mul_checked(d.count, d.sample_size, SORA_MAX_TENSOR_FLOATS,
                        &x_floats) ||
      !sora_mul_checked(d.count, d.label_size, SORA_MAX_TENSOR_FLOATS,
                        &y_floats)) {
    status =
        sora_fail(SORA_ERR_FORMAT,
                  "csv file '%s': %lld rows of %lld features and %lld "
                  "label values are too large (more than %lld floats)",
                  path, (long long)d.count, (long long)d.sample_size,
                  (long long)d.label_size, (long long)SORA_MAX_TENSOR_FLOATS);
    goto done;
  }
  d.x = sora_alloc_floats(x_floats);
  d.y = sora_alloc_floats(y_floats);
  if (!d.x || !d.y) {
    status = sora_fail(SORA_ERR_MEMORY,
                       "out of memory converting '%s' to floats", path);
    goto done;
  }

  // Pass 2: check and convert each data line.
  cursor.p = first.begin;
  cursor.number = first.number - 1;
  if (header)
    next_line(&cursor, &line);
  for (int64_t row = 0; row < rows; ++row) {
    next_line(&cursor, &line); // pass 1 counted it and its columns
    status = convert_line(spec, &labels, &in, path, &line, row, &d);
    if (status != SORA_OK)
      goto done;
  }
  *out = d;

done:
  free(text);
  if (status != SORA_OK)
    sora_dataset_free(&d);
  return status;
}
