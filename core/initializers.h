#pragma once
// Keras' weight initializers with Keras' names and defaults. An initializer given a seed returns the
// same values on every call; one without a seed draws from the global generator (set_random_seed).

#include <ATen/core/Tensor.h>
#include <nlohmann/json_fwd.hpp>
#include <strata/core/ref.h>
#include <strata/core/shape.h>

#include <cstdint>
#include <optional>
#include <string>

namespace strata::initializers {

using Seed = std::optional<uint64_t>;

class Initializer {
 public:
  virtual ~Initializer() = default;
  virtual at::Tensor operator()(const Shape& shape, at::ScalarType dtype = at::kFloat) const = 0;
  virtual std::string class_name() const = 0;
  virtual nlohmann::json get_config() const;
};

// Keras' fan computation: a kernel (..., in, out) has fan_in = in * receptive field, fan_out likewise.
struct Fans {
  double fan_in;
  double fan_out;
};
Fans compute_fans(const Shape& shape);

class Zeros : public Initializer {
 public:
  at::Tensor operator()(const Shape& shape, at::ScalarType dtype = at::kFloat) const override;
  std::string class_name() const override { return "Zeros"; }
};

class Ones : public Initializer {
 public:
  at::Tensor operator()(const Shape& shape, at::ScalarType dtype = at::kFloat) const override;
  std::string class_name() const override { return "Ones"; }
};

class Constant : public Initializer {
 public:
  explicit Constant(double value = 0.0) : value_(value) {}
  at::Tensor operator()(const Shape& shape, at::ScalarType dtype = at::kFloat) const override;
  std::string class_name() const override { return "Constant"; }
  nlohmann::json get_config() const override;

 private:
  double value_;
};

struct RandomNormalOptions {
  double mean = 0.0;
  double stddev = 0.05;
  Seed seed = std::nullopt;
};
class RandomNormal : public Initializer {
 public:
  explicit RandomNormal(RandomNormalOptions options = {}) : options_(options) {}
  at::Tensor operator()(const Shape& shape, at::ScalarType dtype = at::kFloat) const override;
  std::string class_name() const override { return "RandomNormal"; }
  nlohmann::json get_config() const override;

 private:
  RandomNormalOptions options_;
};

// Normal samples redrawn outside two standard deviations of the mean, as Keras defines it.
class TruncatedNormal : public Initializer {
 public:
  explicit TruncatedNormal(RandomNormalOptions options = {}) : options_(options) {}
  at::Tensor operator()(const Shape& shape, at::ScalarType dtype = at::kFloat) const override;
  std::string class_name() const override { return "TruncatedNormal"; }
  nlohmann::json get_config() const override;

 private:
  RandomNormalOptions options_;
};

struct RandomUniformOptions {
  double minval = -0.05;
  double maxval = 0.05;
  Seed seed = std::nullopt;
};
class RandomUniform : public Initializer {
 public:
  explicit RandomUniform(RandomUniformOptions options = {});
  at::Tensor operator()(const Shape& shape, at::ScalarType dtype = at::kFloat) const override;
  std::string class_name() const override { return "RandomUniform"; }
  nlohmann::json get_config() const override;

 private:
  RandomUniformOptions options_;
};

struct VarianceScalingOptions {
  double scale = 1.0;
  std::string mode = "fan_in";                    // fan_in, fan_out, fan_avg
  std::string distribution = "truncated_normal";  // truncated_normal, untruncated_normal, uniform
  Seed seed = std::nullopt;
};
// The family behind Glorot, He and LeCun: variance scale / fan.
class VarianceScaling : public Initializer {
 public:
  explicit VarianceScaling(VarianceScalingOptions options = {});
  at::Tensor operator()(const Shape& shape, at::ScalarType dtype = at::kFloat) const override;
  std::string class_name() const override { return preset_name_.empty() ? "VarianceScaling" : preset_name_; }
  nlohmann::json get_config() const override;

 protected:
  // A named preset (GlorotUniform, ...) serializes only its seed, as Keras does.
  VarianceScaling(std::string preset_name, VarianceScalingOptions options);

 private:
  std::string preset_name_;
  VarianceScalingOptions options_;
};

// Each of these is VarianceScaling with fixed arguments; only the seed is free, as in Keras.
class GlorotUniform : public VarianceScaling {
 public:
  explicit GlorotUniform(Seed seed = std::nullopt);
};
class GlorotNormal : public VarianceScaling {
 public:
  explicit GlorotNormal(Seed seed = std::nullopt);
};
class HeUniform : public VarianceScaling {
 public:
  explicit HeUniform(Seed seed = std::nullopt);
};
class HeNormal : public VarianceScaling {
 public:
  explicit HeNormal(Seed seed = std::nullopt);
};
class LecunUniform : public VarianceScaling {
 public:
  explicit LecunUniform(Seed seed = std::nullopt);
};
class LecunNormal : public VarianceScaling {
 public:
  explicit LecunNormal(Seed seed = std::nullopt);
};

struct OrthogonalOptions {
  double gain = 1.0;
  Seed seed = std::nullopt;
};
class Orthogonal : public Initializer {
 public:
  explicit Orthogonal(OrthogonalOptions options = {}) : options_(options) {}
  at::Tensor operator()(const Shape& shape, at::ScalarType dtype = at::kFloat) const override;
  std::string class_name() const override { return "Orthogonal"; }
  nlohmann::json get_config() const override;

 private:
  OrthogonalOptions options_;
};

class Identity : public Initializer {
 public:
  explicit Identity(double gain = 1.0) : gain_(gain) {}
  at::Tensor operator()(const Shape& shape, at::ScalarType dtype = at::kFloat) const override;
  std::string class_name() const override { return "Identity"; }
  nlohmann::json get_config() const override;

 private:
  double gain_;
};

// The initializer Keras registers under `name` ("glorot_uniform", "he_normal", "zeros", ...).
std::shared_ptr<Initializer> get(const std::string& name);

// An initializer given by name or as an object.
class Spec : public Ref<Initializer> {
 public:
  using Ref<Initializer>::Ref;
  Spec() = default;
  Spec(const char* name) : Ref(get(name)) {}         // NOLINT
  Spec(const std::string& name) : Ref(get(name)) {}  // NOLINT
};

// {"class_name": "GlorotUniform", "config": {"seed": null}}, the form Keras configs nest.
nlohmann::json serialize(const Initializer& initializer);
// The inverse of serialize(); a plain string is taken as a Keras name ("he_normal").
std::shared_ptr<Initializer> deserialize(const nlohmann::json& spec);

// A seed as Keras configs write it: the number, or null for none.
nlohmann::json seed_json(const Seed& seed);
// The "seed" entry of a Keras config; none when it is absent or null.
Seed seed_from(const nlohmann::json& config);

}  // namespace strata::initializers
