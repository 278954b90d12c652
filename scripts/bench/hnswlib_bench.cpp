// hnswlib_bench: the hnswlib side of scripts/bench. It reads the files
// `shoal-bench prepare` writes (base.fbin, query.fbin, gt.ibin), builds
// hnswlib's HNSW with the given M and ef_construction on N threads, and
// measures exactly what `shoal-bench run` measures for Shoal: build time,
// resident memory growth, and per ef the recall@k and single-threaded QPS
// (best of R passes). It prints the same JSON.
//
// With FILTERED set to 1 it also runs the filtered searches at 1, 10 and
// 50 % selectivity (labels.ibin, gt-f<s>.ibin; see shoal-bench's
// filter.go). hnswlib 0.6.2 (Debian 12) predates the BaseFilterFunctor of
// hnswlib 0.7, so the filter is applied the way 0.7 applies it, through
// the same code path: every non-matching point is marked deleted before a
// selectivity's queries (untimed) and unmarked after. searchKnn then walks
// through the marked nodes but only admits unmarked ones to the results
// and keeps going until it holds ef of them -- 0.7's isIdAllowed check
// sits on exactly these lines, next to the deleted check.
//
// usage: hnswlib_bench DIR M EF_CONSTRUCTION EF_LIST(comma) K THREADS REPEAT [FILTERED]
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace {

struct Matrix {
    uint32_t rows = 0, cols = 0;
    std::vector<uint32_t> words;  // raw little-endian values
};

Matrix readMatrix(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        std::fprintf(stderr, "hnswlib_bench: cannot open %s\n", path.c_str());
        std::exit(1);
    }
    Matrix m;
    f.read(reinterpret_cast<char*>(&m.rows), 4);
    f.read(reinterpret_cast<char*>(&m.cols), 4);
    m.words.resize(size_t(m.rows) * m.cols);
    f.read(reinterpret_cast<char*>(m.words.data()), m.words.size() * 4);
    if (!f) {
        std::fprintf(stderr, "hnswlib_bench: %s is truncated\n", path.c_str());
        std::exit(1);
    }
    return m;
}

// rssBytes reads VmRSS from /proc/self/status.
size_t rssBytes() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("VmRSS:", 0) == 0) {
            return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
        }
    }
    return 0;
}

double seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 8 && argc != 9) {
        std::fprintf(stderr, "usage: %s DIR M EF_CONSTRUCTION EF_LIST K THREADS REPEAT [FILTERED]\n", argv[0]);
        return 2;
    }
    std::string dir = argv[1];
    size_t m = std::stoul(argv[2]), efc = std::stoul(argv[3]);
    std::vector<size_t> efs;
    std::stringstream ss(argv[4]);
    for (std::string tok; std::getline(ss, tok, ',');) efs.push_back(std::stoul(tok));
    size_t k = std::stoul(argv[5]);
    unsigned threads = std::stoul(argv[6]);
    int repeat = std::max(1, std::atoi(argv[7]));
    bool filtered = argc == 9 && std::atoi(argv[8]) != 0;

    Matrix base = readMatrix(dir + "/base.fbin");
    Matrix queries = readMatrix(dir + "/query.fbin");
    Matrix truth = readMatrix(dir + "/gt.ibin");
    const float* basef = reinterpret_cast<const float*>(base.words.data());
    const float* qf = reinterpret_cast<const float*>(queries.words.data());
    size_t dim = base.cols, n = base.rows, nq = queries.rows;

    size_t rss0 = rssBytes();
    auto t0 = std::chrono::steady_clock::now();
    hnswlib::L2Space space(dim);
    auto* index = new hnswlib::HierarchicalNSW<float>(&space, n, m, efc, 100);
    // Like hnswlib's Python bindings: every thread takes the next row.
    std::atomic<size_t> next{0};
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; t++) {
        pool.emplace_back([&] {
            for (size_t i; (i = next.fetch_add(1)) < n;) index->addPoint(basef + i * dim, i);
        });
    }
    for (auto& th : pool) th.join();
    auto t1 = std::chrono::steady_clock::now();
    size_t rss1 = rssBytes();

    std::printf("{\n  \"engine\": \"hnswlib\",\n  \"n\": %zu,\n  \"dim\": %zu,\n  \"queries\": %zu,\n  \"k\": %zu,\n"
                "  \"m\": %zu,\n  \"ef_construct\": %zu,\n  \"threads\": %u,\n  \"build_seconds\": %.6f,\n"
                "  \"index_mb\": %.3f,\n  \"runs\": [",
                n, dim, nq, k, m, efc, threads, seconds(t0, t1), double(rss1 - rss0) / (1 << 20));
    std::vector<std::vector<size_t>> found(nq);
    // sweep prints one {"ef","recall","qps"} object per ef, recall against gt.
    auto sweep = [&](const Matrix& gt) {
        for (size_t e = 0; e < efs.size(); e++) {
            index->setEf(efs[e]);
            double best = 1e300;
            for (int r = 0; r < repeat; r++) {
                auto a = std::chrono::steady_clock::now();
                for (size_t i = 0; i < nq; i++) {
                    auto res = index->searchKnn(qf + i * dim, k);
                    std::vector<size_t>& f = found[i];
                    f.clear();
                    while (!res.empty()) {
                        f.push_back(res.top().second);
                        res.pop();
                    }
                }
                best = std::min(best, seconds(a, std::chrono::steady_clock::now()));
            }
            size_t hits = 0, want = 0;
            for (size_t i = 0; i < nq; i++) {
                std::unordered_set<size_t> w;
                for (size_t j = 0; j < std::min<size_t>(k, gt.cols); j++) w.insert(gt.words[i * gt.cols + j]);
                want += w.size();
                for (size_t id : found[i]) hits += w.count(id);
            }
            std::printf("%s\n    {\"ef\": %zu, \"recall\": %.6f, \"qps\": %.3f}", e ? "," : "", efs[e],
                        double(hits) / double(want), double(nq) / best);
        }
    };
    sweep(truth);
    std::printf("\n  ]");
    if (filtered) {
        Matrix labels = readMatrix(dir + "/labels.ibin");
        const int sels[] = {1, 10, 50};
        std::printf(",\n  \"filtered\": [");
        for (int si = 0; si < 3; si++) {
            int s = sels[si];
            Matrix gt = readMatrix(dir + "/gt-f" + std::to_string(s) + ".ibin");
            for (size_t i = 0; i < n; i++)
                if (labels.words[i] >= uint32_t(s)) index->markDelete(i);
            std::printf("%s\n   {\"selectivity\": %d, \"runs\": [", si ? "," : "", s);
            sweep(gt);
            std::printf("]}");
            for (size_t i = 0; i < n; i++)
                if (labels.words[i] >= uint32_t(s)) index->unmarkDelete(i);
        }
        std::printf("\n  ]");
    }
    std::printf("\n}\n");
    delete index;
    return 0;
}
