// padded_batch(): batch() for elements whose shapes differ. Each component is padded at the end of every
// dimension, to the longest in the batch or to the shape the user gave, with that component's padding value.
#include <strata/core/error.h>
#include <strata/core/shape.h>
#include <strata/data/dataset.h>

#include <ATen/ATen.h>

#include <algorithm>

namespace strata::data {
namespace {

class PaddedBatchNode : public DatasetNode {
 public:
  PaddedBatchNode(Dataset input, int64_t batch_size, PaddedBatchOptions options)
      : input_(std::move(input)), batch_size_(batch_size), options_(std::move(options)) {
    if (batch_size_ < 1)
      throw ValueError("Dataset.padded_batch: batch_size must be >= 1, got " + std::to_string(batch_size_));
    for (size_t c = 0; c < options_.padded_shapes.size(); ++c)
      for (int64_t d : options_.padded_shapes[c])
        if (d < -1)
          throw ValueError("Dataset.padded_batch: padded_shapes[" + std::to_string(c) + "] = " +
                           format_dims(options_.padded_shapes[c]) +
                           " has a dimension below -1; use -1 for the longest in the batch");
  }

  std::unique_ptr<Iterator> make_iterator() const override {
    class PaddedBatchIterator : public Iterator {
     public:
      PaddedBatchIterator(std::unique_ptr<Iterator> input, int64_t batch_size, PaddedBatchOptions options,
                          std::string who)
          : input_(std::move(input)), batch_size_(batch_size), options_(std::move(options)), who_(std::move(who)) {}

      std::optional<Element> next() override {
        std::vector<Element> rows;
        while (input_ && static_cast<int64_t>(rows.size()) < batch_size_) {
          std::optional<Element> element = input_->next();
          if (!element) input_.reset();
          else rows.push_back(std::move(*element));
        }
        const int64_t first = consumed_;
        consumed_ += static_cast<int64_t>(rows.size());
        if (rows.empty() || (options_.drop_remainder && static_cast<int64_t>(rows.size()) < batch_size_))
          return std::nullopt;
        check_components(rows, first);
        Element batch;
        for (size_t c = 0; c < rows[0].size(); ++c) batch.push_back(pad_component(rows, c, first));
        return batch;
      }

     private:
      void check_components(const std::vector<Element>& rows, int64_t first) const {
        for (size_t r = 0; r < rows.size(); ++r)
          if (rows[r].size() != rows[0].size())
            throw ShapeError(who_ + ": element " + std::to_string(first + r) + " has " + std::to_string(rows[r].size()) +
                             " components, element " + std::to_string(first) + " has " + std::to_string(rows[0].size()));
        const size_t n = rows[0].size();
        if (!options_.padded_shapes.empty() && options_.padded_shapes.size() != n)
          throw ValueError(who_ + ": padded_shapes has " + std::to_string(options_.padded_shapes.size()) +
                           " entries but the elements have " + std::to_string(n) + " components");
        if (!options_.padding_values.empty() && options_.padding_values.size() != n)
          throw ValueError(who_ + ": padding_values has " + std::to_string(options_.padding_values.size()) +
                           " entries but the elements have " + std::to_string(n) + " components");
      }

      // The batch's shape for component c: the given dimension, or the longest among the rows.
      std::vector<int64_t> target_shape(const std::vector<Element>& rows, size_t c, int64_t first) const {
        const int64_t rank = rows[0][c].dim();
        for (size_t r = 0; r < rows.size(); ++r)
          if (rows[r][c].dim() != rank)
            throw ShapeError(who_ + ": component " + std::to_string(c) + " of element " + std::to_string(first + r) +
                             " has shape " + format_dims(rows[r][c].sizes()) + " but of element " +
                             std::to_string(first) + " has shape " + format_dims(rows[0][c].sizes()) +
                             "; padding needs the same rank");
        std::vector<int64_t> target(static_cast<size_t>(rank), -1);
        if (!options_.padded_shapes.empty()) {
          const std::vector<int64_t>& given = options_.padded_shapes[c];
          if (static_cast<int64_t>(given.size()) != rank)
            throw ShapeError(who_ + ": padded_shapes[" + std::to_string(c) + "] = " + format_dims(given) +
                             " has rank " + std::to_string(given.size()) + " but component " + std::to_string(c) +
                             " of element " + std::to_string(first) + " has shape " + format_dims(rows[0][c].sizes()));
          target = given;
        }
        for (int64_t d = 0; d < rank; ++d) {
          int64_t longest = 0;
          for (const Element& row : rows) longest = std::max(longest, row[c].size(d));
          if (target[d] == -1) target[d] = longest;
        }
        for (size_t r = 0; r < rows.size(); ++r)
          for (int64_t d = 0; d < rank; ++d)
            if (rows[r][c].size(d) > target[d])
              throw ShapeError(who_ + ": component " + std::to_string(c) + " of element " + std::to_string(first + r) +
                               " has shape " + format_dims(rows[r][c].sizes()) + ", larger than its padded shape " +
                               format_dims(target));
        return target;
      }

      at::Tensor pad_component(const std::vector<Element>& rows, size_t c, int64_t first) const {
        const std::vector<int64_t> target = target_shape(rows, c, first);
        for (size_t r = 0; r < rows.size(); ++r)
          if (rows[r][c].scalar_type() != rows[0][c].scalar_type())
            throw ShapeError(who_ + ": component " + std::to_string(c) + " of element " + std::to_string(first + r) +
                             " has dtype " + at::toString(rows[r][c].scalar_type()) + " but of element " +
                             std::to_string(first) + " has dtype " + at::toString(rows[0][c].scalar_type()));
        std::vector<int64_t> shape{static_cast<int64_t>(rows.size())};
        shape.insert(shape.end(), target.begin(), target.end());
        const double value = options_.padding_values.empty() ? 0.0 : options_.padding_values[c];
        at::Tensor batch = at::full(shape, value, rows[0][c].options());
        for (size_t r = 0; r < rows.size(); ++r) {
          at::Tensor region = batch[static_cast<int64_t>(r)];
          for (int64_t d = 0; d < rows[r][c].dim(); ++d) region = region.narrow(d, 0, rows[r][c].size(d));
          region.copy_(rows[r][c]);
        }
        return batch;
      }

      std::unique_ptr<Iterator> input_;
      int64_t batch_size_;
      PaddedBatchOptions options_;
      std::string who_;
      int64_t consumed_ = 0;  // input elements read so far, to name the one at fault
    };
    return std::make_unique<PaddedBatchIterator>(input_.make_iterator(), batch_size_, options_, describe());
  }

  int64_t cardinality() const override {
    const int64_t n = input_.cardinality();
    if (n < 0) return n;
    return options_.drop_remainder ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
  }
  std::string describe() const override { return "padded_batch(" + std::to_string(batch_size_) + ")"; }

 private:
  Dataset input_;
  int64_t batch_size_;
  PaddedBatchOptions options_;
};

}  // namespace

Dataset Dataset::padded_batch(int64_t batch_size, PaddedBatchOptions options) const {
  return Dataset(std::make_shared<PaddedBatchNode>(*this, batch_size, std::move(options)));
}

}  // namespace strata::data
