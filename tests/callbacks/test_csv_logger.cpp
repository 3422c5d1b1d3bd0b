// CSVLogger: exact file text as Keras 3 writes it (Python's csv module: "\r\n" line ends, repr() of floats,
// keys sorted, val_ columns reserved, "NA" for missing values) and append mode.

#include "callback_test_util.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

using namespace strata;
using namespace strata::testing;
using Catch::Matchers::Contains;

TEST_CASE("CSVLogger writes Keras' header, rows and NA columns", "[callbacks][csv_logger]") {
  TempDir dir("csv");
  const std::string path = dir / "log.csv";
  callbacks::CSVLogger logger(path);
  logger.on_train_begin({});
  // Logs arrive in compile order (loss first); the file sorts the keys. No val_ key: val_ columns are added.
  end_epoch(logger, 0, make_logs({{"loss", 0.5}, {"accuracy", 0.25}}));
  // The row is flushed at once: readable before training ends.
  CHECK(read_file(path) == "epoch,accuracy,loss,val_accuracy,val_loss\r\n0,0.25,0.5,NA,NA\r\n");
  end_epoch(logger, 1, make_logs({{"loss", 0.1 + 0.2}, {"accuracy", 1e-05}, {"val_loss", 2.0}}));
  logger.on_train_end({});
  CHECK(read_file(path) ==
        "epoch,accuracy,loss,val_accuracy,val_loss\r\n"
        "0,0.25,0.5,NA,NA\r\n"
        "1,1e-05,0.30000000000000004,NA,2.0\r\n");
}

TEST_CASE("CSVLogger separator, overwrite and append", "[callbacks][csv_logger]") {
  TempDir dir("csv_append");
  const std::string path = dir / "log.csv";
  Logs epoch_logs = make_logs({{"loss", 0.75}, {"val_loss", 0.625}});
  {
    callbacks::CSVLogger logger(path, {.separator = ";"});
    logger.on_train_begin({});
    logger.on_epoch_end(0, epoch_logs);
    logger.on_train_end({});
  }
  CHECK(read_file(path) == "epoch;loss;val_loss\r\n0;0.75;0.625\r\n");
  {
    // append continues the file without a second header.
    callbacks::CSVLogger logger(path, {.separator = ";", .append = true});
    logger.on_train_begin({});
    logger.on_epoch_end(1, epoch_logs);
    logger.on_train_end({});
  }
  CHECK(read_file(path) == "epoch;loss;val_loss\r\n0;0.75;0.625\r\n1;0.75;0.625\r\n");
  {
    // Without append the file starts over.
    callbacks::CSVLogger logger(path, {.separator = ";"});
    logger.on_train_begin({});
    logger.on_epoch_end(0, epoch_logs);
    logger.on_train_end({});
  }
  CHECK(read_file(path) == "epoch;loss;val_loss\r\n0;0.75;0.625\r\n");
  {
    // append to a file that does not exist yet writes the header.
    callbacks::CSVLogger logger(dir / "new.csv", {.append = true});
    logger.on_train_begin({});
    logger.on_epoch_end(0, epoch_logs);
    logger.on_train_end({});
  }
  CHECK(read_file(dir / "new.csv") == "epoch,loss,val_loss\r\n0,0.75,0.625\r\n");

  CHECK_THROWS_WITH(callbacks::CSVLogger(path, {.separator = ";;"}), Contains("one-character separator"));
  callbacks::CSVLogger unwritable(dir / "missing_dir/log.csv");
  CHECK_THROWS_WITH(unwritable.on_train_begin({}), Contains("missing_dir/log.csv"));
}
