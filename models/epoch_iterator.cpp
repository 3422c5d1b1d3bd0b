#include <strata/core/error.h>
#include <strata/core/random.h>
#include <strata/models/epoch_iterator.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

namespace strata {
namespace {

at::Tensor epoch_order(int64_t samples, uint64_t seed, int epoch) {
  at::Generator generator = at::detail::createCPUGenerator(round_seed(seed, static_cast<uint64_t>(epoch)));
  return at::randperm(samples, generator, at::TensorOptions().dtype(at::kLong));
}

}  // namespace

EpochIterator::EpochIterator(Batch data, int64_t batch_size, std::optional<uint64_t> shuffle_seed)
    : data_(std::move(data)), batch_size_(batch_size), shuffle_seed_(shuffle_seed) {
  const int64_t samples = data_.x.front().size(0);
  steps_ = (samples + batch_size_ - 1) / batch_size_;
}

EpochIterator::EpochIterator(data::Dataset dataset, std::optional<int64_t> steps, bool continue_across_epochs,
                             ToBatch to_batch, const std::string& who)
    : dataset_(std::move(dataset)), continue_across_epochs_(continue_across_epochs && steps), to_batch_(std::move(to_batch)) {
  const int64_t cardinality = dataset_->cardinality();
  if (steps) {
    if (*steps < 1) throw ValueError(who + ": steps must be >= 1, got " + std::to_string(*steps));
    steps_ = *steps;
    steps_given_ = true;
  } else if (cardinality == data::kInfiniteCardinality) {
    throw ValueError(who + ": the dataset repeats forever; give steps_per_epoch (validation_steps, steps) to say "
                           "how many batches make an epoch");
  } else if (cardinality >= 0) {
    steps_ = cardinality;
  }
}

void EpochIterator::start_epoch(int epoch, int64_t skip) {
  step_ = 0;
  if (!dataset_) {
    order_ = shuffle_seed_ ? epoch_order(data_.x.front().size(0), *shuffle_seed_, epoch) : at::Tensor();
    step_ = skip;
    return;
  }
  if (!feed_ && (!iterator_ || !continue_across_epochs_)) iterator_ = dataset_->make_iterator();
  while (step_ < skip && next()) {
  }
}

std::optional<Batch> EpochIterator::next() {
  if (steps_ != kUnknownSteps && step_ >= steps_) return std::nullopt;
  if (!dataset_) {
    const int64_t samples = data_.x.front().size(0);
    const int64_t begin = step_ * batch_size_, size = std::min(batch_size_, samples - begin);
    ++step_;
    if (order_.defined()) {
      const at::Tensor index = order_.narrow(0, begin, size);
      return map_batch(data_, [&](const at::Tensor& t) { return t.index_select(0, index); });
    }
    return map_batch(data_, [&](const at::Tensor& t) { return t.narrow(0, begin, size); });
  }
  if (feed_) {
    BatchFeed::Item item = feed_->pop();
    ran_out_ = item.ran_out;
    if (item.batch) ++step_;
    return std::move(item.batch);
  }
  std::optional<data::Element> element = iterator_->next();
  std::optional<Batch> batch;
  if (element) {
    ++step_;
    batch = to_batch_(std::move(*element));
  } else {
    // Keras: with steps given, a dataset that runs dry ends training; a fresh pass starts next time otherwise.
    ran_out_ = steps_given_;
    iterator_.reset();
  }
  for (const auto& feed : shared_with_) feed->push({batch, ran_out_});
  return batch;
}

}  // namespace strata
