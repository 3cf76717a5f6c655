import Foundation

/// Where a job stands. `running` rows are locks: they name the worker holding them.
public enum JobStatus: String, Codable, Sendable, CaseIterable {
    case pending, running, done, failed
}

/// One slide as the catalog knows it: identity (size, mtime, quickhash) and scale.
public struct SlideRecord: Codable, Sendable, Equatable {
    public var slideID: String
    public var path: String
    public var size: Int?
    public var mtime: Double?
    public var quickhash: String?
    public var mpp: Double?
    public var mppSource: String?
    public var label: String?

    public init(slideID: String, path: String, size: Int? = nil, mtime: Double? = nil, quickhash: String? = nil,
                mpp: Double? = nil, mppSource: String? = nil, label: String? = nil) {
        self.slideID = slideID; self.path = path; self.size = size; self.mtime = mtime; self.quickhash = quickhash
        self.mpp = mpp; self.mppSource = mppSource; self.label = label
    }

    /// A record with the file's size and modification time filled in (nil where unreadable).
    public static func file(_ path: String, slideID: String) -> SlideRecord {
        let a = try? FileManager.default.attributesOfItem(atPath: path)
        return SlideRecord(slideID: slideID, path: path, size: (a?[.size] as? NSNumber)?.intValue,
                           mtime: (a?[.modificationDate] as? Date)?.timeIntervalSince1970)
    }
}

/// A file a job wrote, with its size and (for files, when asked) SHA-256.
public struct OutputRecord: Codable, Sendable, Equatable {
    public var path: String
    public var size: Int?
    public var sha256: String?
    public init(path: String, size: Int? = nil, sha256: String? = nil) { self.path = path; self.size = size; self.sha256 = sha256 }
}

/// The worker holding a job: host, process id, when it took the job and last said it was alive.
public struct LockHolder: Codable, Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var pid: Int
    public var started: Double
    public var heartbeat: Double
    public var description: String { "\(host) pid \(pid)" }
}

/// What a worker needs to know about one job before doing it.
public enum Claim: Sendable, Equatable {
    /// The job is this worker's now. `reclaimed` names a dead or silent worker it was taken from.
    case granted(attempt: Int, reclaimed: LockHolder?)
    /// Done earlier and its outputs are complete.
    case alreadyDone
    /// Failed earlier (with this error); retried only with `retryFailed`.
    case failedBefore(error: String)
    /// A live worker holds it.
    case heldElsewhere(LockHolder)
}

/// How a job ended, as the worker reports it.
public struct JobOutcome: Sendable {
    public var status: JobStatus
    public var seconds: Double
    public var units: Int?
    public var error: String?
    public var hint: String?
    public var outputs: [OutputRecord]
    /// Warnings shown for the slide, and job-specific figures (e.g. tissue_area_mm2) the
    /// per-folder summaries are rebuilt from.
    public var warnings: [String]
    public var details: [String: String]
    public init(status: JobStatus, seconds: Double, units: Int? = nil, error: String? = nil, hint: String? = nil, outputs: [OutputRecord] = [],
                warnings: [String] = [], details: [String: String] = [:]) {
        self.status = status; self.seconds = seconds; self.units = units; self.error = error; self.hint = hint; self.outputs = outputs
        self.warnings = warnings; self.details = details
    }

    static func encode(_ details: [String: String]) -> String? {
        guard !details.isEmpty, let d = try? JSONSerialization.data(withJSONObject: details, options: [.sortedKeys]) else { return nil }
        return String(decoding: d, as: UTF8.self)
    }

    static func decode(_ text: String?) -> [String: String] {
        guard let text, let o = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String] else { return [:] }
        return o
    }
}

/// Tool version and a hash of the parameters, recorded with each job.
public struct JobParameters: Sendable {
    public var toolVersion: String
    public var paramsHash: String?
    /// The parameters in words (recorded once per hash, for the run report).
    public var text: String?
    public init(toolVersion: String, paramsHash: String? = nil, text: String? = nil) {
        self.toolVersion = toolVersion; self.paramsHash = paramsHash; self.text = text
    }
}

/// One set of parameters a job kind ran with.
public struct ParameterSet: Codable, Sendable {
    public var paramsHash: String
    public var kind: String
    public var toolVersion: String?
    public var text: String
    public var firstSeen: Double
}

/// How many jobs are in each state, from one aggregate query (progress displays poll this).
public struct JobCounts: Codable, Sendable, Equatable {
    public var total = 0, pending = 0, running = 0, done = 0, failed = 0
    /// Units (patches) of done jobs, and seconds of work of finished jobs.
    public var unitsDone = 0
    public var seconds = 0.0
    /// Distinct workers holding running jobs.
    public var workers = 0
    public var finished: Int { done + failed }
    public var remaining: Int { pending + running }
}

/// One row of the jobs table with its outputs.
public struct JobRecord: Codable, Sendable {
    public var kind: String
    public var slideID: String
    public var input: String?
    public var status: JobStatus
    public var attempts: Int
    public var holder: LockHolder?
    public var finished: Double?
    public var seconds: Double?
    public var units: Int?
    public var error: String?
    public var hint: String?
    public var toolVersion: String?
    public var paramsHash: String?
    public var outputs: [OutputRecord]
    /// For running jobs: the holder is gone (dead process or silent past the stale timeout).
    public var stale: Bool?
    public var warnings: [String] = []
    public var details: [String: String] = [:]
}
