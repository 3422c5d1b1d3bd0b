#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/core/random.h>
#include <strata/layers/image_augmentation.h>
#include <strata/layers/preprocessing.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <numbers>

namespace strata::layers {

namespace {

using initializers::seed_from;
using initializers::seed_json;

// TF's MapCoordinate: where a coordinate outside [0, len - 1] reads from, per fill mode (continuous, before
// interpolation). "constant" leaves it outside so the read gives fill_value.
at::Tensor map_coordinates(const at::Tensor& c, int64_t len, const std::string& fill_mode) {
  if (fill_mode == "constant") return c;
  if (len <= 1) return at::zeros_like(c);
  const auto size = static_cast<double>(len);
  const double last = size - 1;
  if (fill_mode == "nearest") return c.clamp(0, last);
  at::Tensor below, above;
  if (fill_mode == "reflect") {
    const double period = 2 * size;
    const at::Tensor b = c + period * at::trunc(-c / period);
    below = at::where(b < -size, b + period, -b - 1);
    const at::Tensor a = c - period * at::trunc(c / period);
    above = at::where(a >= size, period - a - 1, a);
  } else {  // wrap, with TF's period arithmetic
    below = c + size * (at::trunc(-c / last) + 1);
    above = c - size * at::trunc(c / last);
  }
  return at::where(c < 0, below, at::where(c > last, above, c)).clamp(0, last);
}

// Integer-valued coordinates along one axis of the output grid (batch, height, width) as flat offsets into
// the images (clamped into range, times the axis' stride) and whether each lies inside the image.
struct AxisTaps {
  at::Tensor offset, inside;
};

AxisTaps axis_taps(const at::Tensor& coordinate, int64_t size, int64_t stride) {
  return {coordinate.clamp(0, size - 1).to(at::kLong) * stride, (coordinate >= 0) & (coordinate < size)};
}

// The pixels of `images` (batch, height, width, channels) at the taps' positions; positions outside the image
// read fill_value. `y` carries the batch offsets as well as the rows.
at::Tensor read_pixels(const at::Tensor& images, const AxisTaps& y, const AxisTaps& x, double fill_value) {
  const at::Tensor values = images.reshape({-1, images.size(3)})
                                .index_select(0, (y.offset + x.offset).reshape({-1}))
                                .view(images.sizes());
  return at::where((y.inside & x.inside).unsqueeze(-1), values,
                   at::scalar_tensor(fill_value, images.options()));
}

at::Tensor uniform(int64_t n, double lower, double upper, at::Generator& generator) {
  return at::empty({n}, at::kDouble).uniform_(lower, upper, generator);
}

}  // namespace

namespace detail {

at::Tensor affine_transform(const at::Tensor& images, const at::Tensor& transforms,
                            const AffineAugmentationOptions& options) {
  const int64_t n = images.size(0), height = images.size(1), width = images.size(2);
  // Coordinates take the images' floating dtype and device (float32 as in TF's kernel); the transforms were
  // drawn in float64 on the CPU.
  const at::TensorOptions coordinates = images.options();
  const at::Tensor rows = transforms.to(coordinates);
  const auto coefficient = [&](int64_t i) { return rows.select(1, i).view({n, 1, 1}); };
  const at::Tensor xs = at::arange(width, coordinates).view({1, 1, width});
  const at::Tensor ys = at::arange(height, coordinates).view({1, height, 1});
  const at::Tensor in_x = coefficient(0) * xs + coefficient(1) * ys + coefficient(2);
  const at::Tensor in_y = coefficient(3) * xs + coefficient(4) * ys + coefficient(5);
  const at::Tensor x = map_coordinates(in_x, width, options.fill_mode);
  const at::Tensor y = map_coordinates(in_y, height, options.fill_mode);
  const at::Tensor batch_offsets =
      at::arange(n, images.options().dtype(at::kLong)).view({n, 1, 1}) * (height * width);
  const auto row_taps = [&](const at::Tensor& row) {
    AxisTaps taps = axis_taps(row, height, width);
    taps.offset += batch_offsets;
    return taps;
  };
  const double fill = options.fill_value;
  if (options.interpolation == "nearest") {
    const auto round_half_away = [](const at::Tensor& c) {
      return at::where(c >= 0, at::floor(c + 0.5), at::ceil(c - 0.5));
    };
    return read_pixels(images, row_taps(round_half_away(y)), axis_taps(round_half_away(x), width, 1), fill);
  }
  const at::Tensor x0 = at::floor(x), y0 = at::floor(y);
  const AxisTaps top = row_taps(y0), bottom = row_taps(y0 + 1);
  const AxisTaps left = axis_taps(x0, width, 1), right = axis_taps(x0 + 1, width, 1);
  const at::Tensor wx1 = (x - x0).unsqueeze(-1), wy1 = (y - y0).unsqueeze(-1);
  const at::Tensor wx0 = 1 - wx1, wy0 = 1 - wy1;
  return wy0 * (wx0 * read_pixels(images, top, left, fill) + wx1 * read_pixels(images, top, right, fill)) +
         wy1 *
             (wx0 * read_pixels(images, bottom, left, fill) + wx1 * read_pixels(images, bottom, right, fill));
}

// tf.keras' get_rotation_matrix: a rotation about the center ((width - 1) / 2, (height - 1) / 2).
at::Tensor rotation_transforms(const at::Tensor& angles, int64_t height, int64_t width) {
  const at::Tensor cos = angles.cos(), sin = angles.sin();
  const auto h = static_cast<double>(height - 1), w = static_cast<double>(width - 1);
  const at::Tensor x_offset = (w - (cos * w - sin * h)) / 2.0;
  const at::Tensor y_offset = (h - (sin * w + cos * h)) / 2.0;
  return at::stack({cos, -sin, x_offset, sin, cos, y_offset}, 1);
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------------------------
// Factor

Factor::Factor(double value)
    : lower_(-std::abs(value)), upper_(std::abs(value)), pair_(false), value_(value) {}

Factor::Factor(double lower, double upper)
    : lower_(std::min(lower, upper)), upper_(std::max(lower, upper)), pair_(true), value_(0.0) {}

nlohmann::json Factor::to_json() const {
  return pair_ ? nlohmann::json{lower_, upper_} : nlohmann::json(value_);
}

Factor Factor::from_json(const nlohmann::json& j) {
  if (j.is_number()) return Factor(j.get<double>());
  if (j.is_array() && j.size() == 2 && j[0].is_number() && j[1].is_number())
    return Factor(j[0].get<double>(), j[1].get<double>());
  throw ValueError("expected a factor as a number or a list of two numbers, got " + j.dump());
}

// ---------------------------------------------------------------------------------------------------------------
// RandomFlip

RandomFlip::RandomFlip(std::string mode, RandomFlipOptions options)
    : Layer("RandomFlip", std::move(options.name)),
      mode_(std::move(mode)),
      seed_(options.seed),
      generator_(generator_for(options.seed)) {
  if (mode_ != "horizontal" && mode_ != "vertical" && mode_ != "horizontal_and_vertical")
    throw ValueError(describe() +
                     ": expected mode \"horizontal\", \"vertical\" or \"horizontal_and_vertical\", got \"" +
                     mode_ + "\"");
}

at::Tensor RandomFlip::call(const at::Tensor& inputs, bool training) {
  bool unbatched = false;
  const at::Tensor images = detail::image_batch(describe(), inputs, unbatched);
  if (!training) return unbatched ? images.squeeze(0) : images;
  const int64_t n = images.size(0);
  const at::Tensor flips = uniform(n, 0.0, 1.0, generator_).le(0.5).view({n, 1, 1, 1}).to(images.device());
  at::Tensor out = images;
  if (mode_ != "vertical") out = at::where(flips, out.flip({2}), out);
  if (mode_ != "horizontal") out = at::where(flips, out.flip({1}), out);
  return unbatched ? out.squeeze(0) : out;
}

nlohmann::json RandomFlip::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["mode"] = mode_;
  config["seed"] = seed_json(seed_);
  config["data_format"] = "channels_last";
  return config;
}

RandomFlip RandomFlip::from_config(const nlohmann::json& config) {
  detail::require_channels_last("RandomFlip", config);
  RandomFlip layer(config.value("mode", "horizontal_and_vertical"),
                   {.seed = seed_from(config), .name = config.value("name", "")});
  layer.apply_base_config(config);
  return layer;
}

// ---------------------------------------------------------------------------------------------------------------
// AffineAugmentation

AffineAugmentation::AffineAugmentation(std::string class_name, AffineAugmentationOptions options)
    : Layer(std::move(class_name), std::move(options.name)),
      options_(std::move(options)),
      generator_(generator_for(options_.seed)) {
  const std::string& fill = options_.fill_mode;
  if (fill != "reflect" && fill != "wrap" && fill != "constant" && fill != "nearest")
    throw ValueError(describe() +
                     ": expected fill_mode \"reflect\", \"wrap\", \"constant\" or \"nearest\", got \"" +
                     fill + "\"");
  if (options_.interpolation != "bilinear" && options_.interpolation != "nearest")
    throw ValueError(describe() + ": expected interpolation \"bilinear\" or \"nearest\", got \"" +
                     options_.interpolation + "\"");
}

void AffineAugmentation::check_factor(const Factor& factor, const std::string& argument) const {
  if (factor.lower() < -1.0 || factor.upper() > 1.0)
    throw ValueError(describe() + ": expected " + argument +
                     " as a number or a pair of numbers in [-1, 1], got " + factor.to_json().dump());
}

at::Tensor AffineAugmentation::call(const at::Tensor& inputs, bool training) {
  bool unbatched = false;
  const at::Tensor images = detail::image_batch(describe(), inputs, unbatched);
  if (!training) return unbatched ? images.squeeze(0) : images;
  const at::Tensor transforms = draw_transforms(images.size(0), images.size(1), images.size(2), generator_);
  const at::Tensor out = detail::affine_transform(images, transforms, options_);
  return unbatched ? out.squeeze(0) : out;
}

nlohmann::json AffineAugmentation::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["fill_mode"] = options_.fill_mode;
  config["interpolation"] = options_.interpolation;
  config["seed"] = seed_json(options_.seed);
  config["fill_value"] = options_.fill_value;
  config["data_format"] = "channels_last";
  return config;
}

AffineAugmentationOptions AffineAugmentation::options_from_config(const nlohmann::json& config) {
  return {.fill_mode = config.value("fill_mode", "reflect"),
          .interpolation = config.value("interpolation", "bilinear"),
          .seed = seed_from(config),
          .fill_value = config.value("fill_value", 0.0),
          .name = config.value("name", "")};
}

// ---------------------------------------------------------------------------------------------------------------
// RandomRotation

RandomRotation::RandomRotation(Factor factor, RandomRotationOptions options)
    : AffineAugmentation("RandomRotation", std::move(options)), factor_(factor) {
  check_factor(factor_, "factor");
}

at::Tensor RandomRotation::draw_transforms(int64_t batch, int64_t height, int64_t width,
                                           at::Generator& generator) {
  const double turn = 2.0 * std::numbers::pi;
  return detail::rotation_transforms(uniform(batch, factor_.lower() * turn, factor_.upper() * turn, generator),
                                     height, width);
}

nlohmann::json RandomRotation::get_config() const {
  nlohmann::json config = AffineAugmentation::get_config();
  config["factor"] = {factor_.lower(), factor_.upper()};
  return config;
}

RandomRotation RandomRotation::from_config(const nlohmann::json& config) {
  detail::require_channels_last("RandomRotation", config);
  RandomRotation layer(Factor::from_json(config.at("factor")), options_from_config(config));
  layer.apply_base_config(config);
  return layer;
}

// ---------------------------------------------------------------------------------------------------------------
// RandomTranslation

RandomTranslation::RandomTranslation(Factor height_factor, Factor width_factor,
                                     RandomTranslationOptions options)
    : AffineAugmentation("RandomTranslation", std::move(options)),
      height_factor_(height_factor),
      width_factor_(width_factor) {
  check_factor(height_factor_, "height_factor");
  check_factor(width_factor_, "width_factor");
}

// Output (x, y) reads the input at (x - dx, y - dy).
at::Tensor RandomTranslation::draw_transforms(int64_t batch, int64_t height, int64_t width,
                                              at::Generator& generator) {
  const at::Tensor dy = uniform(batch, height_factor_.lower(), height_factor_.upper(), generator) * height;
  const at::Tensor dx = uniform(batch, width_factor_.lower(), width_factor_.upper(), generator) * width;
  const at::Tensor ones = at::ones({batch}, at::kDouble), zeros = at::zeros({batch}, at::kDouble);
  return at::stack({ones, zeros, -dx, zeros, ones, -dy}, 1);
}

nlohmann::json RandomTranslation::get_config() const {
  nlohmann::json config = AffineAugmentation::get_config();
  config["height_factor"] = height_factor_.to_json();
  config["width_factor"] = width_factor_.to_json();
  return config;
}

RandomTranslation RandomTranslation::from_config(const nlohmann::json& config) {
  detail::require_channels_last("RandomTranslation", config);
  RandomTranslation layer(Factor::from_json(config.at("height_factor")),
                          Factor::from_json(config.at("width_factor")), options_from_config(config));
  layer.apply_base_config(config);
  return layer;
}

// ---------------------------------------------------------------------------------------------------------------
// RandomZoom

RandomZoom::RandomZoom(Factor height_factor, RandomZoomOptions options)
    : AffineAugmentation("RandomZoom", {.fill_mode = std::move(options.fill_mode),
                                        .interpolation = std::move(options.interpolation),
                                        .seed = options.seed,
                                        .fill_value = options.fill_value,
                                        .name = std::move(options.name)}),
      height_factor_(height_factor),
      width_factor_(options.width_factor) {
  check_factor(height_factor_, "height_factor");
  if (width_factor_) check_factor(*width_factor_, "width_factor");
}

// tf.keras' get_zoom_matrix: input coordinate = zoom * x + (size - 1) / 2 * (1 - zoom).
at::Tensor RandomZoom::draw_transforms(int64_t batch, int64_t height, int64_t width,
                                       at::Generator& generator) {
  const at::Tensor zoom_y =
      uniform(batch, 1.0 + height_factor_.lower(), 1.0 + height_factor_.upper(), generator);
  const at::Tensor zoom_x =
      width_factor_ ? uniform(batch, 1.0 + width_factor_->lower(), 1.0 + width_factor_->upper(), generator)
                    : zoom_y;
  const at::Tensor zeros = at::zeros({batch}, at::kDouble);
  const auto h = static_cast<double>(height - 1), w = static_cast<double>(width - 1);
  return at::stack({zoom_x, zeros, w / 2.0 * (1.0 - zoom_x), zeros, zoom_y, h / 2.0 * (1.0 - zoom_y)}, 1);
}

nlohmann::json RandomZoom::get_config() const {
  nlohmann::json config = AffineAugmentation::get_config();
  config["height_factor"] = height_factor_.to_json();
  config["width_factor"] = width_factor_ ? width_factor_->to_json() : nlohmann::json(nullptr);
  return config;
}

RandomZoom RandomZoom::from_config(const nlohmann::json& config) {
  detail::require_channels_last("RandomZoom", config);
  const AffineAugmentationOptions base = options_from_config(config);
  const nlohmann::json width = config.value("width_factor", nlohmann::json(nullptr));
  RandomZoom layer(
      Factor::from_json(config.at("height_factor")),
      {.width_factor = width.is_null() ? std::nullopt : std::optional<Factor>(Factor::from_json(width)),
       .fill_mode = base.fill_mode,
       .interpolation = base.interpolation,
       .seed = base.seed,
       .fill_value = base.fill_value,
       .name = base.name});
  layer.apply_base_config(config);
  return layer;
}

}  // namespace strata::layers
