#pragma once
// CSV files as a Dataset, in the spirit of tf.data.experimental.CsvDataset: typed columns, an optional
// header, RFC 4180 quoting, defaults for empty fields, and a column selection by index or header name.
//
//   auto rows = data::csv_dataset({"train.csv"}, {.record_defaults = {{.dtype = at::kLong}, {}, {.default_value = "0"}},
//                                                 .header = true});
//   // Features packed into one float32 vector and the "price" column as the target, ready for batch():
//   auto train = data::packed_csv_dataset({"train.csv"}, "price", {.record_defaults = ..., .header = true}).batch(32);
//
// The files are streamed (a record at a time) and read one after another in the order given. Each pass
// reopens them. ATen has no string tensors, so a column of text is read only through a vocabulary, which maps
// each value to its int64 index (an unknown value is an error); a text column without one cannot be selected.
//
// Rules (tf's where it has one):
// - Every record of a file must have as many fields as its first line (the header, when there is one); with
//   no column selection that is also the number of record_defaults.
// - A field that is empty, or equal to na_value, takes its column's default_value; a column without a
//   default needs a value in every record.
// - Numbers may have surrounding spaces and a leading '+'; integers must fit their dtype.
// - Blank lines are skipped; "\r\n" line ends are accepted. A quoted field may contain the delimiter, line
//   breaks and "" (a quote).
// Errors: strata::IOError naming a file that cannot be opened; strata::ValueError "path:LINE:COLUMN: ..."
// (LINE 1-based, counting the header; COLUMN the 1-based field number, plus the header's name for it) for a
// record with the wrong number of fields, a value that does not parse, an empty field without a default,
// a value outside the vocabulary or an unterminated quote.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <strata/data/dataset.h>

namespace strata::data {

// How one selected column is read (tf's record_defaults entry).
struct CsvColumn {
  // at::kFloat, at::kDouble, at::kInt or at::kLong; at::kLong for a column with a vocabulary.
  at::ScalarType dtype = at::kFloat;
  // The value for an empty or na_value field, written as in the file (parsed once, with the column's type);
  // nullopt: the column is required.
  std::optional<std::string> default_value = std::nullopt;
  // Non-empty: the column holds text and each value becomes its index in this list (int64).
  std::vector<std::string> vocabulary = {};
};

struct CsvOptions {
  // One per selected column, in the order of the output (every column of the file when none is selected).
  std::vector<CsvColumn> record_defaults = {};
  // The first line of every file holds the column names; it is skipped and names the columns in errors.
  bool header = false;
  char field_delim = ',';
  // Fields may be quoted with '"' (RFC 4180); false reads quotes as ordinary characters.
  bool use_quote_delim = true;
  // A field equal to this string counts as missing (takes the default).
  std::string na_value = "";
  // The 0-based indices of the columns to read, in output order (tf requires them ascending; any order
  // without repeats is accepted here). Empty: every column.
  std::vector<int64_t> select_cols = {};
  // Alternatively the header names of the columns to read, in output order (needs header = true).
  std::vector<std::string> select_col_names = {};
};

// One element per record: one scalar tensor per selected column, of that column's dtype.
Dataset csv_dataset(std::vector<std::string> filenames, CsvOptions options);

// One element per record: (features, label) where features is a float32 vector of every selected column but
// the label (in output order) and label is the scalar of the header column `label_name`, in its dtype.
// Needs header = true; the label must be among the selected columns.
Dataset packed_csv_dataset(std::vector<std::string> filenames, const std::string& label_name, CsvOptions options);

}  // namespace strata::data
