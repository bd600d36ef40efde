// The generated API from C++: the RAII class that the header declares
// beside the C functions owns the instance and throws on errors.
//
//   cpp_api [--data DIR] [--epochs N] [--seed N] (sora_fit_options_from_args)
//
// Trains the rings model of examples/binary (a CSV of two concentric rings)
// as its train block says, then classifies a few points.
#include "rings.h"

#include <cstdio>
#include <exception>

int main(int argc, char **argv) {
  const char *dataDir = nullptr;
  sora_fit_options options = sora_fit_defaults();
  options.verbose = 0;
  if (sora_fit_options_from_args(&argc, argv, &options, &dataDir) != SORA_OK) {
    std::fprintf(stderr, "error: %s\n", sora_last_error());
    return 2;
  }
  if (argc > 1) {
    std::fprintf(stderr, "usage: %s [--data DIR] [--epochs N] [--seed N]\n",
                 argv[0]);
    return 2;
  }
  try {
    sora_models::rings_model model;
    model.fit(dataDir, &options);
    const float points[] = {0.0f, 0.7f, -2.0f, 0.3f, 0.5f, -0.5f, 1.5f, 1.2f};
    float p[4];
    model.predict(points, 4, p);
    int right = 0;
    for (int i = 0; i < 4; ++i) {
      bool outer = p[i] > 0.5f;
      right += outer == (i % 2 == 1);
      std::printf("(%5.2f, %5.2f): %s ring (p = %.3f)\n", points[2 * i],
                  points[2 * i + 1], outer ? "outer" : "inner", p[i]);
    }
    std::printf("%d of 4 points in the right ring\n", right);
    return right == 4 ? 0 : 1;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
