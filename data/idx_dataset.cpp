// idx_dataset: IDX files streamed one record per element.
#include <strata/core/error.h>
#include <strata/core/shape.h>
#include <strata/data/idx.h>
#include <strata/data/idx_dataset.h>

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace strata::data {
namespace {

std::string describe_paths(const std::vector<std::string>& paths) {
  std::string text = "idx_dataset(";
  for (size_t i = 0; i < paths.size(); ++i) text += (i > 0 ? ", '" : "'") + paths[i] + "'";
  return text + ")";
}

class IdxIterator : public Iterator {
 public:
  IdxIterator(const std::vector<std::string>& paths, int64_t count) : count_(count) {
    readers_.reserve(paths.size());
    for (const auto& path : paths) readers_.emplace_back(path);
  }

  std::optional<Element> next() override {
    if (index_ >= count_) {
      // Checked once, when the pass ends, so a file that grew trailing bytes is reported like read_idx does.
      if (index_ == count_) {
        ++index_;
        for (auto& reader : readers_) reader.expect_end();
      }
      return std::nullopt;
    }
    Element element;
    element.reserve(readers_.size());
    for (auto& reader : readers_) element.push_back(reader.read_records(1).squeeze(0));
    ++index_;
    return element;
  }

 private:
  std::vector<IdxReader> readers_;
  int64_t count_;
  int64_t index_ = 0;
};

class IdxNode : public DatasetNode {
 public:
  explicit IdxNode(std::vector<std::string> paths) : paths_(std::move(paths)) {
    if (paths_.empty()) throw ValueError("idx_dataset: expected at least one IDX file, got none");
    for (size_t i = 0; i < paths_.size(); ++i) {
      IdxReader reader(paths_[i]);
      if (reader.shape().empty())
        throw IOError("idx_dataset: IDX file '" + paths_[i] + "' holds a scalar; expected records along a first dimension");
      const int64_t records = reader.shape()[0];
      if (i == 0) {
        count_ = records;
      } else if (records != count_) {
        throw IOError("idx_dataset: the files disagree on the number of records: '" + paths_[0] + "' has " +
                      std::to_string(count_) + ", '" + paths_[i] + "' has " + std::to_string(records) +
                      " (shape " + format_dims(reader.shape()) + ")");
      }
    }
  }

  std::unique_ptr<Iterator> make_iterator() const override {
    return std::make_unique<IdxIterator>(paths_, count_);
  }
  int64_t cardinality() const override { return count_; }
  std::string describe() const override { return describe_paths(paths_); }

 private:
  std::vector<std::string> paths_;
  int64_t count_ = 0;
};

}  // namespace

Dataset idx_dataset(const std::vector<std::string>& paths) { return Dataset(std::make_shared<IdxNode>(paths)); }

}  // namespace strata::data
