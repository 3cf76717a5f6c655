import XCTest
@testable import Archive

/// Shards of Slurm job-array tasks, from the environment Slurm gives each task.
final class SlurmShardTests: XCTestCase {
    func env(_ id: String, _ count: String, min: String? = nil, step: String? = nil) -> [String: String] {
        var e = ["SLURM_ARRAY_TASK_ID": id, "SLURM_ARRAY_TASK_COUNT": count, "SLURM_JOB_ID": "77"]
        if let min { e["SLURM_ARRAY_TASK_MIN"] = min }
        if let step { e["SLURM_ARRAY_TASK_STEP"] = step }
        return e
    }

    func testArrayFromZeroGivesShardsOneToN() throws {
        let shards = try (0..<4).map { try Shard.slurmArrayTask(environment: env("\($0)", "4", min: "0")) }
        XCTAssertEqual(shards, (1...4).map { Shard(index: $0, count: 4) })
        XCTAssertEqual(try Shard.slurmArrayTask(environment: env("2", "4")), Shard(index: 3, count: 4), "MIN unset counts from 0")
    }

    func testArraysNotStartingAtZeroOrWithSteps() throws {
        // --array=1-3
        XCTAssertEqual(try (1...3).map { try Shard.slurmArrayTask(environment: env("\($0)", "3", min: "1")) },
                       (1...3).map { Shard(index: $0, count: 3) })
        // --array=10-16:3 → tasks 10, 13, 16
        XCTAssertEqual(try [10, 13, 16].map { try Shard.slurmArrayTask(environment: env("\($0)", "3", min: "10", step: "3")) },
                       (1...3).map { Shard(index: $0, count: 3) })
    }

    func testEveryTaskTogetherCoversEverySlideOnce() throws {
        let ids = (0..<23).map { String(format: "slide-%02d", $0) }.shuffled()
        let parts = try (5..<12).map { try XCTUnwrap(Shard.slurmArrayTask(environment: env("\($0)", "7", min: "5"))).select(ids) { $0 } }
        XCTAssertEqual(parts.flatMap { $0 }.sorted(), ids.sorted())
        XCTAssertEqual(Set(parts.map(\.count)), [3, 4])
    }

    func testNoArrayIsNoShard() throws {
        XCTAssertNil(try Shard.slurmArrayTask(environment: [:]))
        XCTAssertNil(try Shard.slurmArrayTask(environment: ["SLURM_JOB_ID": "5", "SLURM_ARRAY_TASK_ID": ""]), "a plain sbatch job does everything")
    }

    func testTasksThatCannotBePlacedAreClearErrors() {
        func message(_ e: [String: String]) -> String {
            do { return "no error: \(String(describing: try Shard.slurmArrayTask(environment: e)))" } catch { return "\(error)" }
        }
        XCTAssertTrue(message(["SLURM_ARRAY_TASK_ID": "3"]).contains("SLURM_ARRAY_TASK_COUNT: is not set"), message(["SLURM_ARRAY_TASK_ID": "3"]))
        XCTAssertTrue(message(env("x", "4")).contains("'x' is not a whole number"))
        // --array=1,4,9: ids off a regular grid
        let listed = message(env("9", "3", min: "1"))
        XCTAssertTrue(listed.contains("SLURM_ARRAY_TASK_ID=9") && listed.contains("--shard i/n"), listed)
        XCTAssertTrue(message(env("1", "0")).contains("array of 0 tasks"))
        XCTAssertTrue(message(env("2", "4", min: "3")).contains("not one of 4 tasks from 3"))
    }
}
