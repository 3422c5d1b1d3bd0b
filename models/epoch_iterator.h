#pragma once
// EpochIterator: the batches fit(), evaluate() and predict() loop over, as Keras 3's EpochIterator: in-memory
// tensors cut into batch_size slices (in a per-epoch shuffled order), or the elements of a data::Dataset, which
// are batches already. Internal to the model loops.

#include <strata/data/dataset.h>
#include <strata/models/batch_feed.h>
#include <strata/models/model_data.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace strata {

class EpochIterator {
 public:
  static constexpr int64_t kUnknownSteps = -1;
  using ToBatch = std::function<Batch(data::Element)>;

  // In-memory data. With a shuffle seed, epoch e's order is a permutation drawn from (seed, e) alone, so a fit
  // resumed at epoch e sees the same batches.
  EpochIterator(Batch data, int64_t batch_size, std::optional<uint64_t> shuffle_seed);
  // A dataset of batches. Without `steps`, every epoch is one whole pass. With it, an epoch is `steps` batches
  // and, as in Keras, with `continue_across_epochs` (fit's training data) the next epoch goes on where the last
  // one stopped; a dataset
  // that runs dry first ends the epoch early and sets ran_out(). An infinite dataset needs `steps`.
  EpochIterator(data::Dataset dataset, std::optional<int64_t> steps, bool continue_across_epochs, ToBatch to_batch,
                const std::string& who);

  // Batches per epoch, or kUnknownSteps (a dataset of unknown length without `steps`).
  int64_t steps() const { return steps_; }
  // Starts epoch `epoch`, leaving out its first `skip` batches (trained before a restart).
  void start_epoch(int epoch, int64_t skip = 0);
  // The epoch's next batch, or nullopt once the epoch is over.
  std::optional<Batch> next();
  // A dataset given `steps` ran dry before an epoch's steps were done.
  bool ran_out() const { return ran_out_; }

  // MirroredStrategy (models/batch_feed.h): a dataset iterator of the model hands what it reads to its copies'
  // feeds; a copy's iterator reads its feed instead of the dataset.
  void share_with(std::vector<std::shared_ptr<BatchFeed>> feeds) { shared_with_ = std::move(feeds); }
  void follow(std::shared_ptr<BatchFeed> feed) { feed_ = std::move(feed); }

 private:
  // In-memory
  Batch data_;
  int64_t batch_size_ = 0;
  std::optional<uint64_t> shuffle_seed_;
  at::Tensor order_;
  // Dataset
  std::optional<data::Dataset> dataset_;
  bool continue_across_epochs_ = false;
  ToBatch to_batch_;
  std::unique_ptr<data::Iterator> iterator_;
  bool steps_given_ = false;
  bool ran_out_ = false;
  std::vector<std::shared_ptr<BatchFeed>> shared_with_;
  std::shared_ptr<BatchFeed> feed_;

  int64_t steps_ = kUnknownSteps;
  int64_t step_ = 0;  // batches given in this epoch, skipped ones included
};

}  // namespace strata
