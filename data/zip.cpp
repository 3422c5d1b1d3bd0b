// zip(): element i is the concatenation of element i of every dataset; the shortest dataset ends the pass.
#include <strata/core/error.h>
#include <strata/data/dataset.h>

namespace strata::data {
namespace {

class ZipNode : public DatasetNode {
 public:
  explicit ZipNode(std::vector<Dataset> inputs) : inputs_(std::move(inputs)) {
    if (inputs_.empty()) throw ValueError("Dataset.zip: expected at least one dataset, got none");
  }

  std::unique_ptr<Iterator> make_iterator() const override {
    class ZipIterator : public Iterator {
     public:
      explicit ZipIterator(std::vector<std::unique_ptr<Iterator>> inputs) : inputs_(std::move(inputs)) {}

      std::optional<Element> next() override {
        Element zipped;
        for (auto& input : inputs_) {
          std::optional<Element> element = input->next();
          if (!element) {
            inputs_.clear();  // the pass is over for all of them
            return std::nullopt;
          }
          zipped.insert(zipped.end(), std::make_move_iterator(element->begin()), std::make_move_iterator(element->end()));
        }
        if (inputs_.empty()) return std::nullopt;
        return zipped;
      }

     private:
      std::vector<std::unique_ptr<Iterator>> inputs_;
    };
    std::vector<std::unique_ptr<Iterator>> iterators;
    for (const Dataset& input : inputs_) iterators.push_back(input.make_iterator());
    return std::make_unique<ZipIterator>(std::move(iterators));
  }

  // tf.data's rule: any unknown input makes the zip unknown; otherwise the shortest finite one, else infinite.
  int64_t cardinality() const override {
    int64_t result = kInfiniteCardinality;
    for (const Dataset& input : inputs_) {
      const int64_t n = input.cardinality();
      if (n == kUnknownCardinality) return kUnknownCardinality;
      if (n != kInfiniteCardinality && (result == kInfiniteCardinality || n < result)) result = n;
    }
    return result;
  }

  std::string describe() const override {
    std::string names;
    for (const Dataset& input : inputs_) names += (names.empty() ? "" : ", ") + input.node()->describe();
    return "zip(" + names + ")";
  }

 private:
  std::vector<Dataset> inputs_;
};

}  // namespace

Dataset Dataset::zip(const std::vector<Dataset>& datasets) { return Dataset(std::make_shared<ZipNode>(datasets)); }

}  // namespace strata::data
