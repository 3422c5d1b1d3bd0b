// Writes, for a fixed list of layer cases, everything tf.keras needs to recompute the same layer:
// Strata's serialized config, seeded inputs (and masks), the weights in get_weights() order and the
// outputs of an inference call. check_keras.py rebuilds each layer in tf.keras and compares.
//
// Usage: keras_crosscheck_dump OUT.json

#include <strata/layers/attention.h>
#include <strata/layers/registry.h>

#include "dump_support.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/random.h>

#include <cstdint>
#include <string>

namespace {

using nlohmann::json;
using namespace strata;

// Each case: a Keras-style {"class_name", "config"} (the arguments as a Keras user writes them), the
// input shapes, optional masks given as valid lengths per batch row, and Keras' call arguments.
// "training": true runs the second call in training mode and records the weights after it.
// "int": [high] makes an input of integer ids in [0, high). A recurrent layer's extra inputs are its
// initial states. The outputs' Keras masks are written too.
const char* kCases = R"JSON([
 {"id": "dense", "class_name": "Dense", "config": {"units": 4, "activation": "tanh"}, "inputs": [[2, 5]]},
 {"id": "dense_rank3", "class_name": "Dense", "config": {"units": 3}, "inputs": [[2, 3, 5]]},
 {"id": "conv1d_valid_s2", "class_name": "Conv1D", "config": {"filters": 4, "kernel_size": [3], "strides": [2], "padding": "valid"}, "inputs": [[2, 9, 3]]},
 {"id": "conv1d_same_d2", "class_name": "Conv1D", "config": {"filters": 4, "kernel_size": [3], "padding": "same", "dilation_rate": [2]}, "inputs": [[2, 8, 3]]},
 {"id": "conv1d_causal", "class_name": "Conv1D", "config": {"filters": 2, "kernel_size": [3], "padding": "causal", "dilation_rate": [2]}, "inputs": [[2, 7, 3]]},
 {"id": "conv1d_groups", "class_name": "Conv1D", "config": {"filters": 4, "kernel_size": [2], "groups": 2}, "inputs": [[2, 6, 4]]},
 {"id": "conv2d_same", "class_name": "Conv2D", "config": {"filters": 4, "kernel_size": [3, 3], "padding": "same", "activation": "relu"}, "inputs": [[2, 5, 6, 3]]},
 {"id": "conv2d_same_s2_odd", "class_name": "Conv2D", "config": {"filters": 3, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same"}, "inputs": [[2, 7, 6, 2]]},
 {"id": "conv2d_same_k4_s2", "class_name": "Conv2D", "config": {"filters": 3, "kernel_size": [4, 4], "strides": [2, 2], "padding": "same"}, "inputs": [[1, 8, 7, 2]]},
 {"id": "conv2d_valid_s2", "class_name": "Conv2D", "config": {"filters": 3, "kernel_size": [3, 2], "strides": [2, 1], "padding": "valid"}, "inputs": [[2, 7, 6, 2]]},
 {"id": "conv2d_dilation", "class_name": "Conv2D", "config": {"filters": 3, "kernel_size": [3, 3], "dilation_rate": [2, 2], "padding": "same"}, "inputs": [[1, 7, 7, 2]]},
 {"id": "conv2d_groups", "class_name": "Conv2D", "config": {"filters": 6, "kernel_size": [3, 3], "groups": 3, "use_bias": false}, "inputs": [[1, 5, 5, 6]]},
 {"id": "conv2dT_valid_s2", "class_name": "Conv2DTranspose", "config": {"filters": 3, "kernel_size": [3, 3], "strides": [2, 2], "padding": "valid"}, "inputs": [[2, 4, 5, 2]]},
 {"id": "conv2dT_same_s2", "class_name": "Conv2DTranspose", "config": {"filters": 3, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same"}, "inputs": [[2, 4, 5, 2]]},
 {"id": "conv2dT_same_k4_s2", "class_name": "Conv2DTranspose", "config": {"filters": 2, "kernel_size": [4, 4], "strides": [2, 2], "padding": "same"}, "inputs": [[1, 3, 4, 2]]},
 {"id": "conv2dT_same_s1", "class_name": "Conv2DTranspose", "config": {"filters": 2, "kernel_size": [3, 3], "padding": "same"}, "inputs": [[1, 4, 4, 3]]},
 {"id": "conv1dT_same_s2", "class_name": "Conv1DTranspose", "config": {"filters": 2, "kernel_size": [3], "strides": [2], "padding": "same"}, "inputs": [[2, 5, 3]]},
 {"id": "depthwise_same_m2", "class_name": "DepthwiseConv2D", "config": {"kernel_size": [3, 3], "padding": "same", "depth_multiplier": 2}, "inputs": [[2, 5, 5, 3]]},
 {"id": "depthwise_valid_s2", "class_name": "DepthwiseConv2D", "config": {"kernel_size": [3, 3], "strides": [2, 2]}, "inputs": [[1, 7, 6, 2]]},
 {"id": "separable_same", "class_name": "SeparableConv2D", "config": {"filters": 4, "kernel_size": [3, 3], "padding": "same", "depth_multiplier": 2}, "inputs": [[2, 5, 6, 3]]},
 {"id": "maxpool2d_same_odd", "class_name": "MaxPooling2D", "config": {"pool_size": [3, 3], "strides": [2, 2], "padding": "same"}, "inputs": [[2, 7, 6, 3]]},
 {"id": "maxpool2d_valid", "class_name": "MaxPooling2D", "config": {"pool_size": [2, 2]}, "inputs": [[2, 7, 5, 2]]},
 {"id": "avgpool2d_same_odd", "class_name": "AveragePooling2D", "config": {"pool_size": [3, 3], "strides": [2, 2], "padding": "same"}, "inputs": [[2, 7, 6, 3]]},
 {"id": "avgpool2d_same_2", "class_name": "AveragePooling2D", "config": {"pool_size": [2, 2], "padding": "same"}, "inputs": [[1, 5, 5, 2]]},
 {"id": "avgpool1d_same", "class_name": "AveragePooling1D", "config": {"pool_size": [3], "strides": [2], "padding": "same"}, "inputs": [[2, 8, 2]]},
 {"id": "global_avg_pool2d", "class_name": "GlobalAveragePooling2D", "config": {}, "inputs": [[2, 3, 4, 5]]},
 {"id": "batchnorm_infer", "class_name": "BatchNormalization", "config": {"epsilon": 0.01}, "inputs": [[4, 3, 5]]},
 {"id": "batchnorm_axis1", "class_name": "BatchNormalization", "config": {"axis": 1}, "inputs": [[4, 3, 5]]},
 {"id": "layernorm", "class_name": "LayerNormalization", "config": {"epsilon": 0.001}, "inputs": [[2, 3, 6]]},
 {"id": "layernorm_axes", "class_name": "LayerNormalization", "config": {"axis": [1, 2]}, "inputs": [[2, 3, 4]]},
 {"id": "groupnorm", "class_name": "GroupNormalization", "config": {"groups": 2}, "inputs": [[2, 3, 4, 6]]},
 {"id": "unitnorm", "class_name": "UnitNormalization", "config": {}, "inputs": [[2, 5]]},
 {"id": "simplernn_seq", "class_name": "SimpleRNN", "config": {"units": 4, "return_sequences": true}, "inputs": [[2, 5, 3]]},
 {"id": "simplernn_masked", "class_name": "SimpleRNN", "config": {"units": 3}, "inputs": [[3, 5, 2]], "masks": [[5, 3, 1]]},
 {"id": "lstm_last", "class_name": "LSTM", "config": {"units": 4}, "inputs": [[2, 5, 3]]},
 {"id": "lstm_seq_back", "class_name": "LSTM", "config": {"units": 3, "return_sequences": true, "go_backwards": true}, "inputs": [[2, 4, 3]]},
 {"id": "lstm_state_masked", "class_name": "LSTM", "config": {"units": 3, "return_sequences": true, "return_state": true}, "inputs": [[3, 5, 2]], "masks": [[5, 2, 4]]},
 {"id": "lstm_masked_back", "class_name": "LSTM", "config": {"units": 3, "go_backwards": true}, "inputs": [[3, 5, 2]], "masks": [[5, 2, 4]]},
 {"id": "gru_reset_after", "class_name": "GRU", "config": {"units": 4, "return_sequences": true}, "inputs": [[2, 5, 3]]},
 {"id": "gru_reset_before", "class_name": "GRU", "config": {"units": 4, "reset_after": false}, "inputs": [[2, 5, 3]]},
 {"id": "gru_masked_back", "class_name": "GRU", "config": {"units": 3, "go_backwards": true, "return_sequences": true}, "inputs": [[3, 5, 2]], "masks": [[5, 3, 1]]},
 {"id": "bidir_lstm_concat", "class_name": "Bidirectional", "config": {"layer": {"class_name": "LSTM", "config": {"units": 3, "return_sequences": true}}, "merge_mode": "concat"}, "inputs": [[2, 4, 3]]},
 {"id": "bidir_lstm_masked", "class_name": "Bidirectional", "config": {"layer": {"class_name": "LSTM", "config": {"units": 3}}, "merge_mode": "concat"}, "inputs": [[3, 5, 2]], "masks": [[5, 2, 4]]},
 {"id": "bidir_gru_sum", "class_name": "Bidirectional", "config": {"layer": {"class_name": "GRU", "config": {"units": 3, "return_sequences": true}}, "merge_mode": "sum"}, "inputs": [[2, 4, 3]]},
 {"id": "embedding", "class_name": "Embedding", "config": {"input_dim": 10, "output_dim": 4}, "inputs": [[2, 5]], "int": [10]},
 {"id": "mha_self", "class_name": "MultiHeadAttention", "config": {"num_heads": 2, "key_dim": 3}, "inputs": [[2, 4, 5], [2, 4, 5]]},
 {"id": "mha_cross_key", "class_name": "MultiHeadAttention", "config": {"num_heads": 2, "key_dim": 3, "value_dim": 2, "output_shape": [6]}, "inputs": [[2, 3, 5], [2, 4, 4], [2, 4, 3]]},
 {"id": "mha_attention_mask", "class_name": "MultiHeadAttention", "config": {"num_heads": 2, "key_dim": 3}, "inputs": [[2, 3, 5], [2, 4, 5]], "call": {"attention_mask": true}},
 {"id": "mha_causal", "class_name": "MultiHeadAttention", "config": {"num_heads": 3, "key_dim": 2}, "inputs": [[2, 4, 5], [2, 4, 5]], "call": {"use_causal_mask": true}},
 {"id": "attention_dot", "class_name": "Attention", "config": {}, "inputs": [[2, 3, 4], [2, 5, 4]]},
 {"id": "attention_scale_masked", "class_name": "Attention", "config": {"use_scale": true}, "inputs": [[2, 3, 4], [2, 5, 4]], "masks": [[3, 2], [5, 3]]},
 {"id": "attention_causal", "class_name": "Attention", "config": {"use_scale": true}, "inputs": [[2, 4, 3], [2, 4, 3]], "call": {"use_causal_mask": true}},
 {"id": "attention_concat", "class_name": "Attention", "config": {"score_mode": "concat"}, "inputs": [[2, 3, 4], [2, 5, 4], [2, 5, 4]]},
 {"id": "additive_attention", "class_name": "AdditiveAttention", "config": {}, "inputs": [[2, 3, 4], [2, 5, 4]], "masks": [null, [5, 2]]},
 {"id": "dot_normalize", "class_name": "Dot", "config": {"axes": -1, "normalize": true}, "inputs": [[2, 5], [2, 5]]},
 {"id": "dot_axes_3d", "class_name": "Dot", "config": {"axes": [2, 2]}, "inputs": [[2, 3, 4], [2, 5, 4]]},
 {"id": "concatenate", "class_name": "Concatenate", "config": {"axis": 1}, "inputs": [[2, 3, 4], [2, 2, 4]]},
 {"id": "add", "class_name": "Add", "config": {}, "inputs": [[2, 4], [2, 4], [2, 4]]},
 {"id": "subtract", "class_name": "Subtract", "config": {}, "inputs": [[2, 4], [2, 4]]},
 {"id": "average", "class_name": "Average", "config": {}, "inputs": [[2, 4], [2, 4]]},
 {"id": "maximum", "class_name": "Maximum", "config": {}, "inputs": [[2, 4], [2, 4]]},
 {"id": "zeropad2d", "class_name": "ZeroPadding2D", "config": {"padding": [[1, 2], [0, 3]]}, "inputs": [[1, 3, 3, 2]]},
 {"id": "cropping2d", "class_name": "Cropping2D", "config": {"cropping": [[1, 0], [2, 1]]}, "inputs": [[1, 5, 6, 2]]},
 {"id": "upsampling2d_nearest", "class_name": "UpSampling2D", "config": {"size": [2, 3]}, "inputs": [[1, 3, 2, 2]]},
 {"id": "upsampling2d_bilinear", "class_name": "UpSampling2D", "config": {"size": [2, 2], "interpolation": "bilinear"}, "inputs": [[1, 3, 4, 2]]},
 {"id": "rescaling", "class_name": "Rescaling", "config": {"scale": 0.5, "offset": -1.0}, "inputs": [[2, 3, 3]]},
 {"id": "normalization_given", "class_name": "Normalization", "config": {"mean": [0.5, -1.0, 2.0], "variance": [4.0, 0.25, 1.0]}, "inputs": [[2, 4, 3]]},
 {"id": "resizing_bilinear_up", "class_name": "Resizing", "config": {"height": 7, "width": 5}, "inputs": [[1, 4, 3, 2]]},
 {"id": "resizing_bilinear_down", "class_name": "Resizing", "config": {"height": 3, "width": 4}, "inputs": [[1, 7, 9, 2]]},
 {"id": "resizing_nearest_up", "class_name": "Resizing", "config": {"height": 7, "width": 5, "interpolation": "nearest"}, "inputs": [[1, 4, 3, 2]]},
 {"id": "resizing_nearest_down", "class_name": "Resizing", "config": {"height": 3, "width": 4, "interpolation": "nearest"}, "inputs": [[1, 7, 9, 2]]},
 {"id": "resizing_crop_to_aspect", "class_name": "Resizing", "config": {"height": 4, "width": 4, "crop_to_aspect_ratio": true}, "inputs": [[1, 6, 9, 2]]},
 {"id": "center_crop", "class_name": "CenterCrop", "config": {"height": 3, "width": 4}, "inputs": [[2, 6, 7, 2]]},
 {"id": "center_crop_odd", "class_name": "CenterCrop", "config": {"height": 2, "width": 3}, "inputs": [[1, 5, 6, 1]]},
 {"id": "prelu", "class_name": "PReLU", "config": {}, "inputs": [[2, 3, 4]]},
 {"id": "prelu_shared", "class_name": "PReLU", "config": {"shared_axes": [1]}, "inputs": [[2, 3, 4]]},
 {"id": "elu", "class_name": "ELU", "config": {"alpha": 0.7}, "inputs": [[2, 6]]},
 {"id": "leaky_relu", "class_name": "LeakyReLU", "config": {"alpha": 0.2}, "inputs": [[2, 6]]},
 {"id": "relu_max_thresh", "class_name": "ReLU", "config": {"max_value": 1.0, "negative_slope": 0.1, "threshold": 0.2}, "inputs": [[2, 6]]},
 {"id": "softmax", "class_name": "Softmax", "config": {"axis": -1}, "inputs": [[2, 3, 5]]},
 {"id": "softmax_axis1", "class_name": "Softmax", "config": {"axis": 1}, "inputs": [[2, 3, 5]]},
 {"id": "activation_gelu", "class_name": "Activation", "config": {"activation": "gelu"}, "inputs": [[2, 6]]},
 {"id": "activation_selu", "class_name": "Activation", "config": {"activation": "selu"}, "inputs": [[2, 6]]},
 {"id": "activation_hard_sigmoid", "class_name": "Activation", "config": {"activation": "hard_sigmoid"}, "inputs": [[2, 6]]},
 {"id": "activation_swish", "class_name": "Activation", "config": {"activation": "swish"}, "inputs": [[2, 6]]},
 {"id": "flatten", "class_name": "Flatten", "config": {}, "inputs": [[2, 3, 4]]},
 {"id": "permute", "class_name": "Permute", "config": {"dims": [2, 1]}, "inputs": [[2, 3, 4]]},
 {"id": "repeat_vector", "class_name": "RepeatVector", "config": {"n": 3}, "inputs": [[2, 4]]},
 {"id": "masking", "class_name": "Masking", "config": {"mask_value": 0.0}, "inputs": [[2, 4, 3]], "zero_steps": [[0, 1], [1, 3], [1, 2]]},
 {"id": "embedding_mask_zero", "class_name": "Embedding", "config": {"input_dim": 4, "output_dim": 3, "mask_zero": true}, "inputs": [[2, 6]], "int": [4], "zero_steps": [[0, 5], [1, 0]]},
 {"id": "lstm_initial_state", "class_name": "LSTM", "config": {"units": 3, "return_sequences": true}, "inputs": [[2, 4, 3], [2, 3], [2, 3]]},
 {"id": "gru_initial_state_rb", "class_name": "GRU", "config": {"units": 3, "reset_after": false, "return_state": true}, "inputs": [[2, 4, 3], [2, 3]]},
 {"id": "gru_rb_masked", "class_name": "GRU", "config": {"units": 3, "reset_after": false, "return_sequences": true}, "inputs": [[3, 5, 2]], "masks": [[5, 3, 1]]},
 {"id": "simplernn_relu_back", "class_name": "SimpleRNN", "config": {"units": 3, "activation": "relu", "go_backwards": true, "return_sequences": true}, "inputs": [[2, 4, 3]]},
 {"id": "lstm_act_variants", "class_name": "LSTM", "config": {"units": 3, "activation": "relu", "recurrent_activation": "hard_sigmoid", "use_bias": false}, "inputs": [[2, 4, 3]]},
 {"id": "bidir_lstm_none", "class_name": "Bidirectional", "config": {"layer": {"class_name": "LSTM", "config": {"units": 2, "return_sequences": true}}, "merge_mode": null}, "inputs": [[2, 3, 3]]},
 {"id": "bidir_gru_ave_masked", "class_name": "Bidirectional", "config": {"layer": {"class_name": "GRU", "config": {"units": 2, "return_sequences": true}}, "merge_mode": "ave"}, "inputs": [[3, 4, 2]], "masks": [[4, 2, 1]]},
 {"id": "bidir_simplernn_mul_state", "class_name": "Bidirectional", "config": {"layer": {"class_name": "SimpleRNN", "config": {"units": 2, "return_state": true}}, "merge_mode": "mul"}, "inputs": [[2, 3, 3]]},
 {"id": "time_distributed_dense", "class_name": "TimeDistributed", "config": {"layer": {"class_name": "Dense", "config": {"units": 3}}}, "inputs": [[2, 4, 5]]},
 {"id": "conv3d_same", "class_name": "Conv3D", "config": {"filters": 2, "kernel_size": [2, 3, 3], "strides": [1, 2, 1], "padding": "same"}, "inputs": [[1, 3, 5, 4, 2]]},
 {"id": "conv3dT_valid_s2", "class_name": "Conv3DTranspose", "config": {"filters": 2, "kernel_size": [2, 2, 3], "strides": [2, 2, 1]}, "inputs": [[1, 2, 3, 3, 2]]},
 {"id": "maxpool1d_same", "class_name": "MaxPooling1D", "config": {"pool_size": [3], "strides": [2], "padding": "same"}, "inputs": [[2, 7, 2]]},
 {"id": "maxpool3d_same", "class_name": "MaxPooling3D", "config": {"pool_size": [2, 2, 2], "padding": "same"}, "inputs": [[1, 3, 5, 3, 2]]},
 {"id": "avgpool3d_same", "class_name": "AveragePooling3D", "config": {"pool_size": [2, 3, 2], "strides": [2, 2, 2], "padding": "same"}, "inputs": [[1, 3, 5, 3, 2]]},
 {"id": "global_max_pool1d", "class_name": "GlobalMaxPooling1D", "config": {"keepdims": true}, "inputs": [[2, 4, 3]]},
 {"id": "global_avg_pool1d_masked", "class_name": "GlobalAveragePooling1D", "config": {}, "inputs": [[3, 5, 2]], "masks": [[5, 2, 3]]},
 {"id": "concatenate_masked", "class_name": "Concatenate", "config": {"axis": -1}, "inputs": [[2, 3, 4], [2, 3, 2]], "masks": [[3, 1], null]},
 {"id": "add_masked", "class_name": "Add", "config": {}, "inputs": [[2, 3, 4], [2, 3, 4]], "masks": [[3, 1], [2, 2]]},
 {"id": "multiply", "class_name": "Multiply", "config": {}, "inputs": [[2, 4], [2, 4]]},
 {"id": "minimum", "class_name": "Minimum", "config": {}, "inputs": [[2, 4], [2, 4]]},
 {"id": "dot_axes1_3d", "class_name": "Dot", "config": {"axes": 1, "normalize": true}, "inputs": [[2, 3, 4], [2, 3, 5]]},
 {"id": "zeropad1d", "class_name": "ZeroPadding1D", "config": {"padding": [2, 1]}, "inputs": [[2, 3, 2]]},
 {"id": "cropping1d", "class_name": "Cropping1D", "config": {"cropping": [1, 2]}, "inputs": [[2, 6, 2]]},
 {"id": "upsampling1d", "class_name": "UpSampling1D", "config": {"size": 3}, "inputs": [[2, 3, 2]]},
 {"id": "upsampling3d", "class_name": "UpSampling3D", "config": {"size": [2, 1, 2]}, "inputs": [[1, 2, 3, 2, 2]]},
 {"id": "zeropad3d", "class_name": "ZeroPadding3D", "config": {"padding": [[1, 0], [0, 2], [1, 1]]}, "inputs": [[1, 2, 2, 2, 1]]},
 {"id": "reshape", "class_name": "Reshape", "config": {"target_shape": [-1, 2]}, "inputs": [[2, 3, 4]]},
 {"id": "dropout_inference", "class_name": "Dropout", "config": {"rate": 0.5}, "inputs": [[2, 6]]},
 {"id": "activation_softplus", "class_name": "Activation", "config": {"activation": "softplus"}, "inputs": [[2, 6]]},
 {"id": "activation_softsign", "class_name": "Activation", "config": {"activation": "softsign"}, "inputs": [[2, 6]]},
 {"id": "activation_elu", "class_name": "Activation", "config": {"activation": "elu"}, "inputs": [[2, 6]]},
 {"id": "activation_exponential", "class_name": "Activation", "config": {"activation": "exponential"}, "inputs": [[2, 6]]},
 {"id": "activation_mish", "class_name": "Activation", "config": {"activation": "mish"}, "inputs": [[2, 6]]},
 {"id": "activation_relu6", "class_name": "Activation", "config": {"activation": "relu6"}, "inputs": [[2, 6]]},
 {"id": "activation_softmax_3d", "class_name": "Activation", "config": {"activation": "softmax"}, "inputs": [[2, 3, 4]]},
 {"id": "dense_softmax", "class_name": "Dense", "config": {"units": 3, "activation": "softmax", "use_bias": false}, "inputs": [[2, 4]]},
 {"id": "mha_masked_query_value", "class_name": "MultiHeadAttention", "config": {"num_heads": 2, "key_dim": 2}, "inputs": [[3, 4, 3], [3, 5, 3]], "masks": [[4, 2, 3], [5, 1, 3]]},
 {"id": "attention_return_scores", "class_name": "Attention", "config": {}, "inputs": [[2, 3, 4], [2, 5, 4]], "call": {"return_attention_scores": true}},
 {"id": "mha_return_scores", "class_name": "MultiHeadAttention", "config": {"num_heads": 2, "key_dim": 2}, "inputs": [[2, 3, 4], [2, 5, 4]], "call": {"return_attention_scores": true}},
 {"id": "batchnorm_training", "class_name": "BatchNormalization", "config": {"momentum": 0.8, "epsilon": 0.01}, "inputs": [[6, 4]], "training": true},
 {"id": "batchnorm_training_4d", "class_name": "BatchNormalization", "config": {"axis": -1}, "inputs": [[3, 2, 3, 4]], "training": true},
 {"id": "batchnorm_no_center_scale", "class_name": "BatchNormalization", "config": {"center": false, "scale": false}, "inputs": [[4, 3]], "training": true},
 {"id": "layernorm_training", "class_name": "LayerNormalization", "config": {"center": false}, "inputs": [[2, 3, 6]], "training": true},
 {"id": "groupnorm_training_g1", "class_name": "GroupNormalization", "config": {"groups": 1, "epsilon": 0.01}, "inputs": [[2, 3, 4]], "training": true},
 {"id": "dense_regularized", "class_name": "Dense", "config": {"units": 3, "kernel_regularizer": {"class_name": "L2", "config": {"l2": 0.01}}, "bias_regularizer": {"class_name": "L1", "config": {"l1": 0.02}}, "activity_regularizer": {"class_name": "L1L2", "config": {"l1": 0.01, "l2": 0.03}}}, "inputs": [[4, 5]]},
 {"id": "conv2d_regularized", "class_name": "Conv2D", "config": {"filters": 2, "kernel_size": [2, 2], "kernel_regularizer": {"class_name": "L1L2", "config": {"l1": 0.001, "l2": 0.01}}}, "inputs": [[2, 4, 4, 2]]},
 {"id": "embedding_regularized", "class_name": "Embedding", "config": {"input_dim": 6, "output_dim": 2, "embeddings_regularizer": {"class_name": "L2", "config": {"l2": 0.1}}}, "inputs": [[2, 3]], "int": [6]},
 {"id": "lstm_regularized", "class_name": "LSTM", "config": {"units": 2, "recurrent_regularizer": {"class_name": "L2", "config": {"l2": 0.05}}, "activity_regularizer": {"class_name": "L1", "config": {"l1": 0.1}}}, "inputs": [[2, 3, 2]]},
 {"id": "activity_regularization", "class_name": "ActivityRegularization", "config": {"l1": 0.01, "l2": 0.02}, "inputs": [[4, 3]]},
 {"id": "random_flip_inference", "class_name": "RandomFlip", "config": {"mode": "horizontal", "seed": 1}, "inputs": [[1, 3, 4, 2]]},
 {"id": "random_rotation_inference", "class_name": "RandomRotation", "config": {"factor": 0.2, "seed": 1}, "inputs": [[1, 3, 4, 2]]},
 {"id": "random_zoom_inference", "class_name": "RandomZoom", "config": {"height_factor": 0.2, "seed": 1}, "inputs": [[1, 3, 4, 2]]},
 {"id": "random_translation_inference", "class_name": "RandomTranslation", "config": {"height_factor": 0.1, "width_factor": 0.2, "seed": 1}, "inputs": [[1, 3, 4, 2]]},
 {"id": "gaussian_noise_inference", "class_name": "GaussianNoise", "config": {"stddev": 0.5}, "inputs": [[2, 4]]},
 {"id": "gaussian_dropout_inference", "class_name": "GaussianDropout", "config": {"rate": 0.3}, "inputs": [[2, 4]]},
 {"id": "alpha_dropout_inference", "class_name": "AlphaDropout", "config": {"rate": 0.3}, "inputs": [[2, 4]]},
 {"id": "spatial_dropout2d_inference", "class_name": "SpatialDropout2D", "config": {"rate": 0.3}, "inputs": [[1, 3, 3, 2]]}
])JSON";

using crosscheck::to_json;

// A (batch, T) boolean mask that keeps the first lengths[b] steps of row b.
at::Tensor mask_from_lengths(const json& lengths, int64_t steps) {
  at::Tensor mask = at::zeros({static_cast<int64_t>(lengths.size()), steps}, at::kBool);
  for (size_t b = 0; b < lengths.size(); ++b)
    mask[static_cast<int64_t>(b)].narrow(0, 0, lengths[b].get<int64_t>()).fill_(true);
  return mask;
}

// Replaces every weight with seeded values: variances positive, everything else of either sign.
void randomize_weights(Layer& layer, at::Generator& gen) {
  std::vector<at::Tensor> weights;
  for (const Variable& v : layer.variables()) {
    at::Tensor u = at::rand(v.value.sizes(), gen, at::TensorOptions().dtype(v.value.scalar_type()));
    weights.push_back(v.name.find("variance") != std::string::npos ? u + 0.5 : u - 0.5);
  }
  layer.set_weights(weights);
}

Tensors run(Layer& layer, const std::string& class_name, const Tensors& inputs, const Tensors& masks,
            const json& call, const at::Tensor& attention_mask, bool training, Tensors* output_masks) {
  bool use_causal = call.value("use_causal_mask", false);
  bool scores = call.value("return_attention_scores", false);
  at::Tensor key = inputs.size() > 2 ? inputs[2] : at::Tensor();
  at::Tensor query_mask = masks.empty() ? at::Tensor() : masks[0];
  at::Tensor value_mask = masks.size() < 2 ? at::Tensor() : masks[1];
  bool per_call = use_causal || scores || attention_mask.defined();
  if (class_name == "MultiHeadAttention" && per_call)
    return dynamic_cast<layers::MultiHeadAttention&>(layer).attend(
        inputs[0], inputs[1],
        {.key = key, .query_mask = query_mask, .value_mask = value_mask, .attention_mask = attention_mask,
         .return_attention_scores = scores, .use_causal_mask = use_causal});
  if (per_call)
    return dynamic_cast<layers::Attention&>(layer).attend(
        inputs[0], inputs[1],
        {.key = key, .query_mask = query_mask, .value_mask = value_mask, .return_attention_scores = scores,
         .use_causal_mask = use_causal});
  return layer.apply(inputs, masks, training, output_masks);
}

json run_case(const json& spec, uint64_t seed) {
  at::Generator gen = generator_for(seed);
  auto layer = layers::deserialize({{"class_name", spec.at("class_name")}, {"config", spec.at("config")}});
  Tensors inputs;
  for (const json& shape : spec.at("inputs")) {
    auto dims = shape.get<std::vector<int64_t>>();
    inputs.push_back(spec.contains("int") ? at::randint(spec.at("int")[0].get<int64_t>(), dims, gen, at::kLong)
                                          : at::randn(dims, gen, at::kFloat));
  }
  // "zero_steps": [[row, step], ...] zeroes those timesteps of the first input (for Masking, mask_zero).
  for (const json& at_step : spec.value("zero_steps", json::array()))
    inputs[0][at_step[0].get<int64_t>()][at_step[1].get<int64_t>()].zero_();
  Tensors masks;
  json mask_lists = json::array();
  if (spec.contains("masks")) {
    for (size_t i = 0; i < spec.at("masks").size(); ++i) {
      const json& lengths = spec.at("masks")[i];
      masks.push_back(lengths.is_null() ? at::Tensor() : mask_from_lengths(lengths, inputs[i].size(1)));
      mask_lists.push_back(lengths.is_null() ? json() : to_json(masks.back()));
    }
  }
  json call = spec.value("call", json::object());
  at::Tensor attention_mask;
  if (call.value("attention_mask", false)) {
    // Random keep/hide per (query, key) pair, key 0 always kept so no row is fully masked.
    attention_mask = at::rand({inputs[0].size(0), inputs[0].size(1), inputs[1].size(1)}, gen) < 0.6;
    attention_mask.select(2, 0).fill_(true);
    call["attention_mask"] = to_json(attention_mask);
  }
  Tensors output_masks;
  run(*layer, spec.at("class_name"), inputs, masks, call, attention_mask, false, nullptr);  // builds
  randomize_weights(*layer, gen);
  std::vector<at::Tensor> weights = layer->get_weights();
  bool training = spec.value("training", false);
  Tensors outputs = run(*layer, spec.at("class_name"), inputs, masks, call, attention_mask, training, &output_masks);

  json out = {{"id", spec.at("id")},
              {"class_name", layer->class_name()},
              {"keras_args", spec.at("config")},
              {"config", layers::serialize(*layer).at("config")},
              {"inputs", json::array()},
              {"weights", json::array()},
              {"weight_names", json::array()},
              {"outputs", json::array()},
              {"call", call}};
  if (!masks.empty()) out["input_masks"] = mask_lists;
  for (const at::Tensor& x : inputs) out["inputs"].push_back(to_json(x));
  for (const Variable& v : layer->variables()) out["weight_names"].push_back(v.name);
  for (const at::Tensor& w : weights) out["weights"].push_back(to_json(w));
  if (training) {
    out["training"] = true;
    out["weights_after"] = json::array();  // moving statistics updated by the training call
    for (const at::Tensor& w : layer->get_weights()) out["weights_after"].push_back(to_json(w));
  }
  double losses = 0.0;
  for (const at::Tensor& loss : layer->losses()) losses += loss.item<double>();
  out["losses"] = losses;
  for (const at::Tensor& y : outputs) out["outputs"].push_back(to_json(y));
  // attend() reports no output masks, so there are masks to compare only after apply().
  if (!output_masks.empty()) {
    out["output_masks"] = json::array();
    for (const at::Tensor& m : output_masks) out["output_masks"].push_back(m.defined() ? to_json(m) : json());
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<crosscheck::NamedCase> cases;
  for (const json& spec : json::parse(kCases)) {
    cases.push_back({{{"id", spec.at("id")}, {"class_name", spec.at("class_name")}, {"keras_args", spec.at("config")}},
                     [spec](uint64_t seed) { return run_case(spec, seed); }});
  }
  return crosscheck::run_cases(argc, argv, cases, 1000);
}
