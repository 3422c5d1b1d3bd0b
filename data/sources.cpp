// The sources: tensors sliced or whole, an integer range, and a user generator.
#include <strata/core/error.h>
#include <strata/core/shape.h>
#include <strata/data/dataset.h>

#include <ATen/ATen.h>

namespace strata::data {
namespace {

class SlicesNode : public DatasetNode {
 public:
  explicit SlicesNode(Element given) : tensors_(std::make_shared<const Element>(std::move(given))) {
    const Element& tensors_ = *this->tensors_;
    if (tensors_.empty()) throw ValueError("Dataset.from_tensor_slices: expected at least one tensor, got none");
    for (size_t i = 0; i < tensors_.size(); ++i) {
      const at::Tensor& t = tensors_[i];
      if (!t.defined() || t.dim() == 0)
        throw ShapeError("Dataset.from_tensor_slices: tensor " + std::to_string(i) +
                         " must have a first dimension to slice, got " +
                         (t.defined() ? "a scalar" : std::string("an undefined tensor")));
      if (t.size(0) != tensors_[0].size(0))
        throw ShapeError("Dataset.from_tensor_slices: every tensor must have the same first dimension; tensor 0 has " +
                         std::to_string(tensors_[0].size(0)) + " rows, tensor " + std::to_string(i) + " has shape " +
                         format_dims(t.sizes()));
    }
  }

  std::unique_ptr<Iterator> make_iterator() const override {
    class SliceIterator : public Iterator {
     public:
      explicit SliceIterator(std::shared_ptr<const Element> tensors) : tensors_(std::move(tensors)) {}
      std::optional<Element> next() override {
        if (index_ >= (*tensors_)[0].size(0)) return std::nullopt;
        Element element;
        element.reserve(tensors_->size());
        for (const auto& t : *tensors_) element.push_back(t[index_]);
        ++index_;
        return element;
      }

     private:
      std::shared_ptr<const Element> tensors_;  // shared, so the pass outlives the Dataset handle
      int64_t index_ = 0;
    };
    return std::make_unique<SliceIterator>(tensors_);
  }
  int64_t cardinality() const override { return (*tensors_)[0].size(0); }
  std::string describe() const override { return "from_tensor_slices"; }

 private:
  std::shared_ptr<const Element> tensors_;
};

class GeneratorNode : public DatasetNode {
 public:
  GeneratorNode(std::function<Dataset::Generator()> make_generator, int64_t cardinality, std::string name)
      : make_generator_(std::move(make_generator)), cardinality_(cardinality), name_(std::move(name)) {
    if (!make_generator_) throw ValueError("Dataset." + name_ + ": expected a generator factory, got an empty function");
    if (cardinality_ < kUnknownCardinality)
      throw ValueError("Dataset." + name_ + ": cardinality must be >= 0, kInfiniteCardinality or kUnknownCardinality, got " +
                       std::to_string(cardinality_));
  }

  std::unique_ptr<Iterator> make_iterator() const override {
    class GeneratorIterator : public Iterator {
     public:
      explicit GeneratorIterator(Dataset::Generator generator) : generator_(std::move(generator)) {}
      std::optional<Element> next() override {
        if (done_) return std::nullopt;
        std::optional<Element> element = generator_();
        done_ = !element.has_value();
        return element;
      }

     private:
      Dataset::Generator generator_;
      bool done_ = false;
    };
    Dataset::Generator generator = make_generator_();
    if (!generator) throw ValueError("Dataset." + name_ + ": the generator factory returned an empty function");
    return std::make_unique<GeneratorIterator>(std::move(generator));
  }
  int64_t cardinality() const override { return cardinality_; }
  std::string describe() const override { return name_; }

 private:
  std::function<Dataset::Generator()> make_generator_;
  int64_t cardinality_;
  std::string name_;
};

}  // namespace

Dataset Dataset::from_tensor_slices(Element tensors) {
  return Dataset(std::make_shared<SlicesNode>(std::move(tensors)));
}

Dataset Dataset::from_tensors(Element tensors) {
  if (tensors.empty()) throw ValueError("Dataset.from_tensors: expected at least one tensor, got none");
  return Dataset(std::make_shared<GeneratorNode>(
      [tensors] {
        return [tensors, given = false]() mutable -> std::optional<Element> {
          if (given) return std::nullopt;
          given = true;
          return tensors;
        };
      },
      1, "from_tensors"));
}

Dataset Dataset::range(int64_t start, int64_t stop, int64_t step) {
  if (step == 0) throw ValueError("Dataset.range: step must not be 0");
  const int64_t count = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0)
                                 : (start > stop ? (start - stop - step - 1) / -step : 0);
  return Dataset(std::make_shared<GeneratorNode>(
      [start, step, count] {
        return [start, step, count, i = int64_t{0}]() mutable -> std::optional<Element> {
          if (i >= count) return std::nullopt;
          return Element{at::scalar_tensor(start + step * i++, at::kLong)};
        };
      },
      count, "range(" + std::to_string(start) + ", " + std::to_string(stop) + ", " + std::to_string(step) + ")"));
}

Dataset Dataset::from_generator(std::function<Generator()> make_generator, int64_t cardinality) {
  return Dataset(std::make_shared<GeneratorNode>(std::move(make_generator), cardinality, "from_generator"));
}

}  // namespace strata::data
