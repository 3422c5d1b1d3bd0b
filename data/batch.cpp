// batch(): stacks batch_size consecutive elements component by component into one element.
#include <strata/core/error.h>
#include <strata/core/shape.h>
#include <strata/data/dataset.h>

#include <ATen/ATen.h>

namespace strata::data {
namespace {

class BatchNode : public DatasetNode {
 public:
  BatchNode(Dataset input, int64_t batch_size, BatchOptions options)
      : input_(std::move(input)), batch_size_(batch_size), options_(options) {
    if (batch_size_ < 1) throw ValueError("Dataset.batch: batch_size must be >= 1, got " + std::to_string(batch_size_));
  }

  std::unique_ptr<Iterator> make_iterator() const override {
    class BatchIterator : public Iterator {
     public:
      BatchIterator(std::unique_ptr<Iterator> input, int64_t batch_size, bool drop_remainder, std::string who)
          : input_(std::move(input)), batch_size_(batch_size), drop_remainder_(drop_remainder), who_(std::move(who)) {}

      std::optional<Element> next() override {
        std::vector<Element> rows;
        rows.reserve(static_cast<size_t>(batch_size_));
        while (static_cast<int64_t>(rows.size()) < batch_size_) {
          std::optional<Element> element = input_->next();
          if (!element) break;
          rows.push_back(std::move(*element));
        }
        if (rows.empty() || (drop_remainder_ && static_cast<int64_t>(rows.size()) < batch_size_)) return std::nullopt;
        return stack_rows(rows);
      }

     private:
      Element stack_rows(const std::vector<Element>& rows) const {
        Element batch;
        for (size_t c = 0; c < rows[0].size(); ++c) {
          std::vector<at::Tensor> parts;
          parts.reserve(rows.size());
          for (size_t r = 0; r < rows.size(); ++r) {
            if (rows[r].size() != rows[0].size())
              throw ShapeError(who_ + ": element " + std::to_string(r) + " of the batch has " +
                               std::to_string(rows[r].size()) + " components, the first has " +
                               std::to_string(rows[0].size()));
            if (rows[r][c].sizes() != rows[0][c].sizes())
              throw ShapeError(who_ + ": component " + std::to_string(c) + " of element " + std::to_string(r) +
                               " has shape " + format_dims(rows[r][c].sizes()) + " but the batch's first has " +
                               format_dims(rows[0][c].sizes()) + "; use padded_batch() for elements of varying shape");
            parts.push_back(rows[r][c]);
          }
          batch.push_back(at::stack(parts));
        }
        return batch;
      }

      std::unique_ptr<Iterator> input_;
      int64_t batch_size_;
      bool drop_remainder_;
      std::string who_;
    };
    return std::make_unique<BatchIterator>(input_.make_iterator(), batch_size_, options_.drop_remainder, describe());
  }

  int64_t cardinality() const override {
    const int64_t n = input_.cardinality();
    if (n < 0) return n;
    return options_.drop_remainder ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
  }

  std::string describe() const override { return "batch(" + std::to_string(batch_size_) + ")"; }

 private:
  Dataset input_;
  int64_t batch_size_;
  BatchOptions options_;
};

}  // namespace

Dataset Dataset::batch(int64_t batch_size, BatchOptions options) const {
  return Dataset(std::make_shared<BatchNode>(*this, batch_size, options));
}

}  // namespace strata::data
