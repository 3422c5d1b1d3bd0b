// filter(): passes on the elements for which the predicate returns true.
#include <strata/core/error.h>
#include <strata/data/dataset.h>

namespace strata::data {
namespace {

class FilterNode : public DatasetNode {
 public:
  FilterNode(Dataset input, Dataset::Predicate predicate) : input_(std::move(input)), predicate_(std::move(predicate)) {
    if (!predicate_) throw ValueError("Dataset.filter: expected a predicate, got an empty function");
  }

  std::unique_ptr<Iterator> make_iterator() const override {
    class FilterIterator : public Iterator {
     public:
      FilterIterator(std::unique_ptr<Iterator> input, Dataset::Predicate predicate)
          : input_(std::move(input)), predicate_(std::move(predicate)) {}

      std::optional<Element> next() override {
        while (input_) {
          std::optional<Element> element = input_->next();
          if (!element) input_.reset();  // frees the input's resources (threads, buffers) at the end of the pass
          else if (predicate_(*element)) return element;
        }
        return std::nullopt;
      }

     private:
      std::unique_ptr<Iterator> input_;
      Dataset::Predicate predicate_;
    };
    return std::make_unique<FilterIterator>(input_.make_iterator(), predicate_);
  }

  // tf.data cannot know how many elements a predicate keeps.
  int64_t cardinality() const override { return kUnknownCardinality; }
  std::string describe() const override { return "filter"; }

 private:
  Dataset input_;
  Dataset::Predicate predicate_;
};

}  // namespace

Dataset Dataset::filter(Predicate predicate) const {
  return Dataset(std::make_shared<FilterNode>(*this, std::move(predicate)));
}

}  // namespace strata::data
