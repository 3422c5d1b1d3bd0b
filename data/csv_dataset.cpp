// csv_dataset / packed_csv_dataset: a streaming RFC 4180 reader and the typed columns on top of it.
#include <strata/core/error.h>
#include <strata/data/csv_dataset.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>
#include <memory>
#include <set>
#include <unordered_map>

namespace strata::data {
namespace {

// Reads a file one record (a list of fields) at a time through a fixed buffer.
class CsvReader {
 public:
  CsvReader(std::string path, char delimiter, bool quotes)
      : path_(std::move(path)), delimiter_(delimiter), quotes_(quotes), file_(std::fopen(path_.c_str(), "rb")) {
    if (!file_) throw IOError("csv_dataset: cannot open '" + path_ + "'");
  }
  ~CsvReader() { std::fclose(file_); }
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  // The next non-blank record, or false at the end of the file. lines[i] is the line field i starts on.
  bool next_record(std::vector<std::string>& fields, std::vector<int64_t>& lines) {
    fields.clear();
    lines.clear();
    if (!skip_blank_lines()) return false;
    for (;;) {
      lines.push_back(line_);
      std::string field;
      int c = get();
      if (quotes_ && c == '"') {
        c = read_quoted(field, lines.back(), static_cast<int64_t>(fields.size()) + 1);
      } else {
        while (c != delimiter_ && c != '\n' && c != EOF) {
          if (quotes_ && c == '"')
            throw ValueError(where(line_, static_cast<int64_t>(fields.size()) + 1) +
                             "a quote inside an unquoted field (quote the whole field and double the quote)");
          field.push_back(static_cast<char>(c));
          c = get();
        }
        if ((c == '\n' || c == EOF) && !field.empty() && field.back() == '\r') field.pop_back();
      }
      fields.push_back(std::move(field));
      if (c == '\n') ++line_;
      if (c != delimiter_) return true;
    }
  }

  std::string where(int64_t line, int64_t column) const {
    return path_ + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  }
  const std::string& path() const { return path_; }

 private:
  // Reads up to the closing quote and returns the character after it (a delimiter, '\n' or EOF).
  int read_quoted(std::string& field, int64_t line, int64_t column) {
    for (;;) {
      int c = get();
      if (c == EOF) throw ValueError(where(line, column) + "the quoted field is not closed before the end of the file");
      if (c == '"') {
        c = get();
        if (c != '"') {
          if (c == '\r' && peek() == '\n') c = get();
          if (c != delimiter_ && c != '\n' && c != EOF)
            throw ValueError(where(line_, column) + "unexpected '" + std::string(1, static_cast<char>(c)) +
                             "' after a closing quote (a quote inside a quoted field is written \"\")");
          return c;
        }
      } else if (c == '\n') {
        ++line_;
      }
      field.push_back(static_cast<char>(c));
    }
  }

  bool skip_blank_lines() {
    for (;;) {
      int c = peek();
      if (c == EOF) return false;
      if (c == '\n') {
        get();
        ++line_;
      } else if (c == '\r' && peek(1) == '\n') {
        get();
      } else {
        return true;
      }
    }
  }

  int peek(size_t ahead = 0) {
    if (pos_ + ahead >= size_) fill();
    return pos_ + ahead < size_ ? static_cast<unsigned char>(buffer_[pos_ + ahead]) : EOF;
  }
  int get() {
    const int c = peek();
    if (c != EOF) ++pos_;
    return c;
  }
  // Keeps the unread bytes and appends the next block.
  void fill() {
    std::copy(buffer_.begin() + static_cast<std::ptrdiff_t>(pos_), buffer_.begin() + static_cast<std::ptrdiff_t>(size_),
              buffer_.begin());
    size_ -= pos_;
    pos_ = 0;
    size_ += std::fread(buffer_.data() + size_, 1, buffer_.size() - size_, file_);
    if (std::ferror(file_)) throw IOError("csv_dataset: error reading '" + path_ + "'");
  }

  std::string path_;
  char delimiter_;
  bool quotes_;
  std::FILE* file_;
  std::vector<char> buffer_ = std::vector<char>(1 << 16);
  size_t pos_ = 0, size_ = 0;
  int64_t line_ = 1;
};

const char* dtype_name(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kInt: return "int32";
    case at::kLong: return "int64";
    default: return "an unsupported dtype";
  }
}

// Parses `text` as a number of `dtype`; nullopt (with `problem` set) when it is not one.
std::optional<at::Scalar> parse_number(std::string_view text, at::ScalarType dtype, std::string& problem) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (text.size() > 1 && text.front() == '+' && text[1] != '-') text.remove_prefix(1);
  const char* end = text.data() + text.size();
  if (dtype == at::kFloat || dtype == at::kDouble) {
    double value = 0;
    std::from_chars_result result{};
    if (dtype == at::kFloat) {
      float f = 0;
      result = std::from_chars(text.data(), end, f);
      value = f;
    } else {
      result = std::from_chars(text.data(), end, value);
    }
    if (result.ec == std::errc::result_out_of_range) problem = "out of range for ";
    else if (result.ec != std::errc() || result.ptr != end) problem = "not a number of type ";
    else return at::Scalar(value);
  } else {
    int64_t value = 0;
    const auto result = std::from_chars(text.data(), end, value);
    const bool fits = dtype == at::kLong || (value >= std::numeric_limits<int32_t>::min() &&
                                             value <= std::numeric_limits<int32_t>::max());
    if (result.ec == std::errc::result_out_of_range || (result.ec == std::errc() && result.ptr == end && !fits))
      problem = "out of range for ";
    else if (result.ec != std::errc() || result.ptr != end) problem = "not an integer of type ";
    else return at::Scalar(value);
  }
  problem += dtype_name(dtype);
  return std::nullopt;
}

// A selected column: how its text becomes a value.
struct Column {
  at::ScalarType dtype;
  std::optional<at::Scalar> default_value;
  std::unordered_map<std::string, int64_t> vocabulary;  // empty: a number

  // The value of a present field, nullopt with `problem` set when it does not parse.
  std::optional<at::Scalar> parse(const std::string& text, std::string& problem) const {
    if (vocabulary.empty()) return parse_number(text, dtype, problem);
    const auto it = vocabulary.find(text);
    if (it != vocabulary.end()) return at::Scalar(it->second);
    problem = "not in the column's vocabulary";
    return std::nullopt;
  }
};

struct CsvSpec {
  std::vector<std::string> filenames;
  CsvOptions options;
  std::vector<Column> columns;  // one per selected column
  int64_t label_position = -1;  // packed_csv_dataset: the label's place among the selected columns
};

std::vector<Column> make_columns(const CsvOptions& options) {
  std::vector<Column> columns;
  for (size_t i = 0; i < options.record_defaults.size(); ++i) {
    const CsvColumn& given = options.record_defaults[i];
    const std::string who = "csv_dataset: record_defaults[" + std::to_string(i) + "]";
    if (given.dtype != at::kFloat && given.dtype != at::kDouble && given.dtype != at::kInt && given.dtype != at::kLong)
      throw ValueError(who + ": dtype must be float32, float64, int32 or int64, got " + std::string(c10::toString(given.dtype)));
    Column column{given.dtype, std::nullopt, {}};
    if (!given.vocabulary.empty()) {
      if (given.dtype != at::kLong)
        throw ValueError(who + ": a column with a vocabulary yields int64 indices; set dtype = at::kLong, got " +
                         dtype_name(given.dtype));
      for (size_t v = 0; v < given.vocabulary.size(); ++v)
        if (!column.vocabulary.emplace(given.vocabulary[v], static_cast<int64_t>(v)).second)
          throw ValueError(who + ": the vocabulary lists '" + given.vocabulary[v] + "' twice");
    }
    if (given.default_value) {
      std::string problem;
      column.default_value = column.parse(*given.default_value, problem);
      if (!column.default_value) throw ValueError(who + ": default_value '" + *given.default_value + "': " + problem);
    }
    columns.push_back(std::move(column));
  }
  return columns;
}

void check_options(const std::vector<std::string>& filenames, const CsvOptions& options) {
  if (filenames.empty()) throw ValueError("csv_dataset: expected at least one file name, got none");
  if (options.record_defaults.empty()) throw ValueError("csv_dataset: record_defaults must describe at least one column");
  if (!options.select_cols.empty() && !options.select_col_names.empty())
    throw ValueError("csv_dataset: give select_cols or select_col_names, not both");
  if (!options.select_col_names.empty() && !options.header)
    throw ValueError("csv_dataset: select_col_names needs header = true");
  if (options.field_delim == '\n' || options.field_delim == '\r' || (options.use_quote_delim && options.field_delim == '"'))
    throw ValueError("csv_dataset: field_delim cannot be a line break or the quote character");
  const size_t selected = std::max(options.select_cols.size(), options.select_col_names.size());
  if (selected != 0 && selected != options.record_defaults.size())
    throw ValueError("csv_dataset: " + std::to_string(selected) + " selected columns but " +
                     std::to_string(options.record_defaults.size()) + " record_defaults; give one per selected column");
  std::set<int64_t> seen;
  for (int64_t index : options.select_cols) {
    if (index < 0) throw ValueError("csv_dataset: select_cols must be >= 0, got " + std::to_string(index));
    if (!seen.insert(index).second) throw ValueError("csv_dataset: select_cols lists column " + std::to_string(index) + " twice");
  }
  if (std::set<std::string>(options.select_col_names.begin(), options.select_col_names.end()).size() !=
      options.select_col_names.size())
    throw ValueError("csv_dataset: select_col_names lists a column twice");
}

// The columns to read from one file, given its header (empty without one) and its number of fields.
std::vector<int64_t> resolve_selection(const CsvOptions& options, const std::vector<std::string>& header,
                                       int64_t num_fields, const CsvReader& reader, int64_t line) {
  std::vector<int64_t> selected;
  if (!options.select_col_names.empty()) {
    for (const std::string& name : options.select_col_names) {
      const auto it = std::find(header.begin(), header.end(), name);
      if (it == header.end()) throw ValueError(reader.where(1, 1) + "the header has no column '" + name + "'");
      selected.push_back(it - header.begin());
    }
  } else if (!options.select_cols.empty()) {
    for (int64_t index : options.select_cols)
      if (index >= num_fields)
        throw ValueError(reader.where(line, 1) + "select_cols names column " + std::to_string(index) + " but the file has " +
                         std::to_string(num_fields) + " columns");
    selected = options.select_cols;
  } else {
    if (num_fields != static_cast<int64_t>(options.record_defaults.size()))
      throw ValueError(reader.where(line, 1) + "the file has " + std::to_string(num_fields) + " columns but " +
                       std::to_string(options.record_defaults.size()) + " record_defaults were given");
    for (int64_t i = 0; i < num_fields; ++i) selected.push_back(i);
  }
  return selected;
}

class CsvIterator : public Iterator {
 public:
  explicit CsvIterator(std::shared_ptr<const CsvSpec> spec) : spec_(std::move(spec)) {}

  std::optional<Element> next() override {
    for (;;) {
      if (!reader_) {
        if (next_file_ == spec_->filenames.size()) return std::nullopt;
        open(spec_->filenames[next_file_++]);
      }
      if (reader_->next_record(fields_, lines_)) {
        if (num_fields_ < 0) start_file(lines_[0]);
        return convert();
      }
      reader_.reset();
    }
  }

 private:
  void open(const std::string& path) {
    const CsvOptions& options = spec_->options;
    reader_ = std::make_unique<CsvReader>(path, options.field_delim, options.use_quote_delim);
    header_.clear();
    num_fields_ = -1;
    if (options.header && reader_->next_record(header_, lines_)) start_file(lines_[0]);
  }

  // Fixes the field count and the selection from the file's first line.
  void start_file(int64_t line) {
    num_fields_ = static_cast<int64_t>(spec_->options.header ? header_.size() : fields_.size());
    selected_ = resolve_selection(spec_->options, header_, num_fields_, *reader_, line);
  }

  std::string column_label(int64_t index) const {
    return header_.empty() ? "column " + std::to_string(index + 1) : "column '" + header_[index] + "'";
  }

  Element convert() const {
    const int64_t got = static_cast<int64_t>(fields_.size());
    if (got != num_fields_) {
      const int64_t column = std::min(got, num_fields_);  // the first extra or missing field, 0-based
      throw ValueError(reader_->where(lines_[std::min(column, got - 1)], column + 1) + "expected " +
                       std::to_string(num_fields_) + " fields, got " + std::to_string(got));
    }
    std::vector<at::Scalar> values;
    values.reserve(selected_.size());
    for (size_t i = 0; i < selected_.size(); ++i) {
      const int64_t index = selected_[i];
      const Column& column = spec_->columns[i];
      const std::string& text = fields_[index];
      const std::string where = reader_->where(lines_[index], index + 1) + column_label(index) + ": ";
      if (text.empty() || text == spec_->options.na_value) {
        if (!column.default_value) throw ValueError(where + "the field is empty and the column has no default_value");
        values.push_back(*column.default_value);
        continue;
      }
      std::string problem;
      std::optional<at::Scalar> value = column.parse(text, problem);
      if (!value) throw ValueError(where + "'" + text + "' is " + problem);
      values.push_back(*value);
    }
    return spec_->label_position < 0 ? scalars(values) : packed(values);
  }

  Element scalars(const std::vector<at::Scalar>& values) const {
    Element element;
    element.reserve(values.size());
    for (size_t i = 0; i < values.size(); ++i) element.push_back(at::scalar_tensor(values[i], spec_->columns[i].dtype));
    return element;
  }

  Element packed(const std::vector<at::Scalar>& values) const {
    const size_t label = static_cast<size_t>(spec_->label_position);
    at::Tensor features = at::empty({static_cast<int64_t>(values.size()) - 1}, at::kFloat);
    float* out = features.data_ptr<float>();
    for (size_t i = 0; i < values.size(); ++i)
      if (i != label) *out++ = values[i].toFloat();
    return {features, at::scalar_tensor(values[label], spec_->columns[label].dtype)};
  }

  std::shared_ptr<const CsvSpec> spec_;
  size_t next_file_ = 0;
  std::unique_ptr<CsvReader> reader_;
  std::vector<std::string> header_, fields_;
  std::vector<int64_t> lines_, selected_;
  int64_t num_fields_ = -1;
};

class CsvNode : public DatasetNode {
 public:
  explicit CsvNode(std::shared_ptr<const CsvSpec> spec) : spec_(std::move(spec)) {}
  std::unique_ptr<Iterator> make_iterator() const override { return std::make_unique<CsvIterator>(spec_); }
  int64_t cardinality() const override { return kUnknownCardinality; }
  std::string describe() const override {
    return std::string(spec_->label_position < 0 ? "csv_dataset" : "packed_csv_dataset") + "('" +
           spec_->filenames[0] + "'" + (spec_->filenames.size() > 1 ? ", ..." : "") + ")";
  }

 private:
  std::shared_ptr<const CsvSpec> spec_;
};

// Where `label_name` sits among the selected columns, read from the first file's header.
int64_t label_position(const CsvSpec& spec, const std::string& label_name) {
  const CsvOptions& options = spec.options;
  const std::string who = "packed_csv_dataset: label_name '" + label_name + "'";
  if (!options.header) throw ValueError("packed_csv_dataset: needs header = true to find the label column by name");
  if (!options.select_col_names.empty()) {
    const auto it = std::find(options.select_col_names.begin(), options.select_col_names.end(), label_name);
    if (it == options.select_col_names.end()) throw ValueError(who + " is not among select_col_names");
    return it - options.select_col_names.begin();
  }
  CsvReader reader(spec.filenames[0], options.field_delim, options.use_quote_delim);
  std::vector<std::string> header;
  std::vector<int64_t> lines;
  if (!reader.next_record(header, lines)) throw ValueError(who + ": '" + spec.filenames[0] + "' has no header line");
  const auto column = std::find(header.begin(), header.end(), label_name);
  if (column == header.end()) throw ValueError(who + " is not a column of '" + spec.filenames[0] + "'");
  const int64_t index = column - header.begin();
  if (options.select_cols.empty()) return index;
  const auto it = std::find(options.select_cols.begin(), options.select_cols.end(), index);
  if (it == options.select_cols.end()) throw ValueError(who + " (column " + std::to_string(index) + ") is not among select_cols");
  return it - options.select_cols.begin();
}

std::shared_ptr<CsvSpec> make_spec(std::vector<std::string> filenames, CsvOptions options) {
  check_options(filenames, options);
  auto spec = std::make_shared<CsvSpec>();
  spec->columns = make_columns(options);
  spec->filenames = std::move(filenames);
  spec->options = std::move(options);
  return spec;
}

}  // namespace

Dataset csv_dataset(std::vector<std::string> filenames, CsvOptions options) {
  return Dataset(std::make_shared<CsvNode>(make_spec(std::move(filenames), std::move(options))));
}

Dataset packed_csv_dataset(std::vector<std::string> filenames, const std::string& label_name, CsvOptions options) {
  auto spec = make_spec(std::move(filenames), std::move(options));
  spec->label_position = label_position(*spec, label_name);
  if (spec->columns.size() < 2) throw ValueError("packed_csv_dataset: needs at least one feature column besides the label");
  return Dataset(std::make_shared<CsvNode>(std::move(spec)));
}

}  // namespace strata::data
