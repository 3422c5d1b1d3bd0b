#include <strata/core/error.h>
#include <strata/data/dataset.h>

namespace strata::data {

Dataset::Dataset(std::shared_ptr<const DatasetNode> node) : node_(std::move(node)) {
  if (!node_) throw ValueError("Dataset: expected a pipeline step, got null");
}

std::vector<Element> Dataset::elements() const {
  if (cardinality() == kInfiniteCardinality)
    throw ValueError("Dataset " + node_->describe() + ": elements() of an infinite dataset would never return");
  std::vector<Element> out;
  for (const Element& element : *this) out.push_back(element);
  return out;
}

Dataset::Cursor::Cursor(std::unique_ptr<Iterator> iterator) : iterator_(std::move(iterator)) {
  current_ = iterator_->next();
}

Dataset::Cursor& Dataset::Cursor::operator++() {
  current_ = iterator_->next();
  return *this;
}

}  // namespace strata::data
