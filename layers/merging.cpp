#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/layers/merging.h>

#include <algorithm>
#include <functional>

namespace strata::layers {
namespace {

std::string format_shapes(const std::vector<Shape>& shapes) {
  std::string out = "[";
  for (size_t i = 0; i < shapes.size(); ++i) out += (i ? ", " : "") + format_shape(shapes[i]);
  return out + "]";
}

// inputs[0] op inputs[1] op ... op inputs[n - 1], left to right.
template <class Op>
at::Tensor fold(const Tensors& inputs, Op op) {
  at::Tensor out = inputs[0];
  for (size_t i = 1; i < inputs.size(); ++i) out = op(out, inputs[i]);
  return out;
}

std::vector<Shape> shapes_of(const Tensors& inputs) {
  std::vector<Shape> shapes;
  for (const auto& input : inputs) shapes.push_back(shape_of(input));
  return shapes;
}

// Keras' _compute_elemwise_op_output_shape: shapes aligned from the right; a 1 broadcasts, None stays None.
// Returns false when two known sizes differ and neither is 1.
bool broadcast_per_sample(Shape a, Shape b, Shape& out) {
  if (a.size() < b.size()) std::swap(a, b);
  out.assign(a.begin(), a.end() - static_cast<std::ptrdiff_t>(b.size()));
  for (size_t k = 0; k < b.size(); ++k) {
    const int64_t i = a[a.size() - b.size() + k], j = b[k];
    if (i == kNone || j == kNone) {
      out.push_back(kNone);
    } else if (i == 1 || j == 1 || i == j) {
      out.push_back(i == 1 ? j : i);
    } else {
      return false;
    }
  }
  return true;
}

// The one concrete batch size among `shapes`, or None.
int64_t known_batch(const std::vector<Shape>& shapes) {
  for (const auto& shape : shapes)
    if (shape[0] != kNone) return shape[0];
  return kNone;
}

template <class L>
L merge_from_config(const nlohmann::json& config) {
  L layer(config.value("name", ""));
  layer.apply_base_config(config);
  return layer;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Merge

Merge::Merge(std::string class_name, std::string name, size_t exact_inputs, bool expand_ranks)
    : Layer(std::move(class_name), std::move(name)),
      exact_inputs_(exact_inputs),
      expand_ranks_(expand_ranks) {
  set_supports_masking(true);
}

void Merge::check_input_count(size_t count) const {
  if (exact_inputs_ > 0 && count != exact_inputs_)
    throw ValueError(describe() + ": should be called on exactly " + std::to_string(exact_inputs_) +
                     " inputs, got " + std::to_string(count));
  if (count < 1) throw ValueError(describe() + ": should be called on a list of at least 1 input, got none");
}

void Merge::check_batch_sizes(const std::vector<Shape>& input_shapes) const {
  for (const auto& shape : input_shapes)
    if (shape.empty())
      throw ShapeError(describe() + ": expected inputs with a batch axis, got shapes " +
                       format_shapes(input_shapes));
  const int64_t batch = known_batch(input_shapes);
  for (const auto& shape : input_shapes)
    if (shape[0] != kNone && shape[0] != batch)
      throw ShapeError(describe() + ": cannot merge tensors with different batch sizes, got shapes " +
                       format_shapes(input_shapes));
}

Shape Merge::compute_output_shape(const std::vector<Shape>& input_shapes) const {
  check_input_count(input_shapes.size());
  check_batch_sizes(input_shapes);
  Shape out(input_shapes[0].begin() + 1, input_shapes[0].end());
  for (size_t i = 1; i < input_shapes.size(); ++i) {
    const Shape per_sample(input_shapes[i].begin() + 1, input_shapes[i].end());
    if (!broadcast_per_sample(out, per_sample, out))
      throw ShapeError(describe() + ": inputs have incompatible shapes " + format_shapes(input_shapes) +
                       " (sizes must be equal or 1, aligned from the last axis)");
  }
  out.insert(out.begin(), known_batch(input_shapes));
  return out;
}

Shape Merge::compute_output_shape(const Shape& input_shape) const {
  return compute_output_shape(std::vector<Shape>{input_shape});
}

void Merge::build_many(const std::vector<Shape>& input_shapes) { compute_output_shape(input_shapes); }

Tensors Merge::call_many(const Tensors& inputs, const Tensors& masks, bool training) {
  compute_output_shape(shapes_of(inputs));  // built once, but every call's shapes must fit too
  if (!expand_ranks_) return {merge(inputs)};
  int64_t rank = 0;
  for (const auto& x : inputs) rank = std::max(rank, x.dim());
  Tensors expanded;
  for (at::Tensor x : inputs) {
    while (x.dim() < rank) x = x.unsqueeze(1);
    expanded.push_back(x);
  }
  return {merge(expanded)};
}

Tensors Merge::compute_mask(const Tensors& inputs, const Tensors& masks) const {
  at::Tensor out;
  for (const auto& mask : masks) {
    if (!mask.defined()) continue;
    out = out.defined() ? at::logical_and(out, mask) : mask.to(at::kBool);
  }
  return {out};
}

// ---------------------------------------------------------------------------------------------------------------
// Element-wise merges

Add::Add(std::string name) : Merge("Add", std::move(name)) {}
Add Add::from_config(const nlohmann::json& config) { return merge_from_config<Add>(config); }
at::Tensor Add::merge(const Tensors& inputs) const { return fold(inputs, std::plus<>()); }

Subtract::Subtract(std::string name) : Merge("Subtract", std::move(name), 2) {}
Subtract Subtract::from_config(const nlohmann::json& config) { return merge_from_config<Subtract>(config); }
at::Tensor Subtract::merge(const Tensors& inputs) const { return inputs[0] - inputs[1]; }

Multiply::Multiply(std::string name) : Merge("Multiply", std::move(name)) {}
Multiply Multiply::from_config(const nlohmann::json& config) { return merge_from_config<Multiply>(config); }
at::Tensor Multiply::merge(const Tensors& inputs) const { return fold(inputs, std::multiplies<>()); }

Average::Average(std::string name) : Merge("Average", std::move(name)) {}
Average Average::from_config(const nlohmann::json& config) { return merge_from_config<Average>(config); }
at::Tensor Average::merge(const Tensors& inputs) const {
  return fold(inputs, std::plus<>()) / static_cast<double>(inputs.size());
}

Maximum::Maximum(std::string name) : Merge("Maximum", std::move(name)) {}
Maximum Maximum::from_config(const nlohmann::json& config) { return merge_from_config<Maximum>(config); }
at::Tensor Maximum::merge(const Tensors& inputs) const {
  return fold(inputs, [](const at::Tensor& a, const at::Tensor& b) { return at::maximum(a, b); });
}

Minimum::Minimum(std::string name) : Merge("Minimum", std::move(name)) {}
Minimum Minimum::from_config(const nlohmann::json& config) { return merge_from_config<Minimum>(config); }
at::Tensor Minimum::merge(const Tensors& inputs) const {
  return fold(inputs, [](const at::Tensor& a, const at::Tensor& b) { return at::minimum(a, b); });
}

// ---------------------------------------------------------------------------------------------------------------
// Concatenate

Concatenate::Concatenate(int64_t axis, ConcatenateOptions options)
    : Merge("Concatenate", std::move(options.name), 0, /*expand_ranks=*/false), axis_(axis) {}

Shape Concatenate::compute_output_shape(const std::vector<Shape>& input_shapes) const {
  check_input_count(input_shapes.size());
  check_batch_sizes(input_shapes);
  const int64_t rank = static_cast<int64_t>(input_shapes[0].size());
  for (const auto& shape : input_shapes)
    if (static_cast<int64_t>(shape.size()) != rank)
      throw ShapeError(describe() + ": expected inputs of one rank, got shapes " +
                       format_shapes(input_shapes));
  const int64_t axis = axis_ < 0 ? axis_ + rank : axis_;
  if (axis < 0 || axis >= rank)
    throw ShapeError(describe() + ": axis " + std::to_string(axis_) + " is out of range for inputs of rank " +
                     std::to_string(rank) + ", got shapes " + format_shapes(input_shapes));
  Shape out(rank, kNone);
  out[axis] = 0;
  for (const auto& shape : input_shapes) {
    for (int64_t d = 0; d < rank; ++d) {
      if (d == axis) {
        out[d] = out[d] == kNone || shape[d] == kNone ? kNone : out[d] + shape[d];
      } else if (shape[d] != kNone) {
        if (out[d] != kNone && out[d] != shape[d])
          throw ShapeError(describe() +
                           ": inputs must have matching shapes except along the concatenation axis " +
                           std::to_string(axis_) + ", got shapes " + format_shapes(input_shapes));
        out[d] = shape[d];
      }
    }
  }
  return out;
}

at::Tensor Concatenate::merge(const Tensors& inputs) const { return at::cat(inputs, axis_); }

Tensors Concatenate::compute_mask(const Tensors& inputs, const Tensors& masks) const {
  if (std::none_of(masks.begin(), masks.end(), [](const at::Tensor& m) { return m.defined(); })) return {};
  // Each mask widened to its input's shape (all-true without one), joined like the inputs, then one entry per
  // position of the remaining axes: tf.keras' all() over the last axis.
  Tensors full;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!masks[i].defined()) {
      full.push_back(at::ones(inputs[i].sizes(), inputs[i].options().dtype(at::kBool)));
      continue;
    }
    at::Tensor mask = masks[i].to(at::kBool);
    while (mask.dim() < inputs[i].dim()) mask = mask.unsqueeze(-1);
    full.push_back(mask.expand(inputs[i].sizes()));
  }
  return {at::cat(full, axis_).all(-1)};
}

nlohmann::json Concatenate::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["axis"] = axis_;
  return config;
}

Concatenate Concatenate::from_config(const nlohmann::json& config) {
  Concatenate layer(config.value("axis", int64_t{-1}), {.name = config.value("name", "")});
  layer.apply_base_config(config);
  return layer;
}

// ---------------------------------------------------------------------------------------------------------------
// Dot

Dot::Dot(DotAxes axes, DotOptions options)
    : Merge("Dot", std::move(options.name), 2, /*expand_ranks=*/false),
      axes_(std::move(axes)),
      normalize_(options.normalize) {
  if (axes_.values.size() != 2)
    throw ValueError(describe() + ": axes must be one int or a pair of ints, got " +
                     std::to_string(axes_.values.size()) + " values");
  if (axes_.values[0] == 0 || axes_.values[1] == 0)
    throw ValueError(describe() + ": cannot take the dot product over the batch axis (axis 0), got axes (" +
                     std::to_string(axes_.values[0]) + ", " + std::to_string(axes_.values[1]) + ")");
}

std::pair<int64_t, int64_t> Dot::resolve_axes(int64_t rank1, int64_t rank2) const {
  auto resolve = [&](int64_t axis, int64_t rank, int which) {
    const int64_t resolved = axis < 0 ? axis + rank : axis;
    if (resolved < 1 || resolved >= rank)
      throw ShapeError(describe() + ": axis " + std::to_string(axis) + " of input " + std::to_string(which) +
                       " must name a non-batch axis of its rank " + std::to_string(rank) + " (1.." +
                       std::to_string(rank - 1) + " or -" + std::to_string(rank - 1) + "..-1)");
    return resolved;
  };
  return {resolve(axes_.values[0], rank1, 0), resolve(axes_.values[1], rank2, 1)};
}

Shape Dot::compute_output_shape(const std::vector<Shape>& input_shapes) const {
  check_input_count(input_shapes.size());
  check_batch_sizes(input_shapes);
  Shape first = input_shapes[0], second = input_shapes[1];
  if (first.size() < 2 || second.size() < 2)
    throw ShapeError(describe() + ": expected inputs of rank >= 2, got shapes " +
                     format_shapes(input_shapes));
  const auto [a0, a1] = resolve_axes(static_cast<int64_t>(first.size()), static_cast<int64_t>(second.size()));
  if (first[a0] != kNone && second[a1] != kNone && first[a0] != second[a1])
    throw ShapeError(describe() + ": incompatible input shapes: size " + std::to_string(first[a0]) +
                     " (axis " + std::to_string(a0) + " of input 0) != " + std::to_string(second[a1]) +
                     " (axis " + std::to_string(a1) + " of input 1), got shapes " +
                     format_shapes(input_shapes));
  first.erase(first.begin() + a0);
  first[0] = known_batch(input_shapes);
  second.erase(second.begin() + a1);
  first.insert(first.end(), second.begin() + 1, second.end());
  if (first.size() == 1) first.push_back(1);
  return first;
}

at::Tensor Dot::merge(const Tensors& inputs) const {
  at::Tensor x = inputs[0], y = inputs[1];
  const auto [a0, a1] = resolve_axes(x.dim(), y.dim());
  if (normalize_) {
    // tf.math.l2_normalize: x / sqrt(max(sum(x^2), 1e-12)).
    auto l2_normalize = [](const at::Tensor& t, int64_t axis) {
      return t * at::rsqrt(at::clamp_min(t.pow(2).sum(axis, /*keepdim=*/true), 1e-12));
    };
    x = l2_normalize(x, a0);
    y = l2_normalize(y, a1);
  }
  // batch_dot as one batched matmul: x -> (batch, rest of x, d), y -> (batch, d, rest of y).
  x = x.movedim(a0, -1);
  y = y.movedim(a1, 1);
  Shape out_dims(x.sizes().begin(), x.sizes().end() - 1);
  out_dims.insert(out_dims.end(), y.sizes().begin() + 2, y.sizes().end());
  const int64_t batch = x.size(0), depth = x.size(-1);
  auto product_of = [](at::IntArrayRef dims) {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    return n;
  };
  const int64_t x_rest = product_of(x.sizes().slice(1, x.dim() - 2));
  const int64_t y_rest = product_of(y.sizes().slice(2));
  at::Tensor product = at::bmm(x.reshape({batch, x_rest, depth}), y.reshape({batch, depth, y_rest}));
  if (out_dims.size() == 1) out_dims.push_back(1);
  return product.reshape(out_dims);
}

Tensors Dot::compute_mask(const Tensors& inputs, const Tensors& masks) const { return {}; }

nlohmann::json Dot::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["axes"] = axes_.single ? nlohmann::json(axes_.values[0]) : nlohmann::json(axes_.values);
  config["normalize"] = normalize_;
  return config;
}

Dot Dot::from_config(const nlohmann::json& config) {
  const nlohmann::json& axes = config.at("axes");
  std::vector<int64_t> values =
      axes.is_number_integer() ? std::vector<int64_t>{axes.get<int64_t>()} : axes.get<std::vector<int64_t>>();
  if (values.size() != 1 && values.size() != 2)
    throw ValueError("Dot: axes must be one int or a pair of ints, got " + axes.dump());
  const DotAxes parsed = values.size() == 1 ? DotAxes(values[0]) : DotAxes(values[0], values[1]);
  Dot layer(parsed, {.normalize = config.value("normalize", false), .name = config.value("name", "")});
  layer.apply_base_config(config);
  return layer;
}

}  // namespace strata::layers
