import Foundation

/// PET SUV body weight from the DICOM tags (the vendor-neutral recipe):
///
///     SUVbw = voxel [Bq/mL] × weight [g] / (injected dose [Bq] × 2^(−Δt / half-life))
///
/// with Δt from the radiopharmaceutical start (date)time to the series start (SeriesDate +
/// SeriesTime, or the earliest acquisition when the series time is later, as happens after
/// post-processing). Requires Units BQML, DecayCorrection START (decayed to scan start) or
/// ADMIN (already decayed to injection: Δt = 0), PatientWeight and the
/// RadiopharmaceuticalInformationSequence dose, half-life and start time.
enum PETSUV {
    static func bodyWeightFactor(_ slices: [DICOMDataSet]) -> (factor: Double?, note: String) {
        guard let ds = slices.first else { return (nil, "SUV not computed: no slices") }
        let units = ds.string(Tag.units) ?? ""
        guard units == "BQML" else {
            let why = units.isEmpty ? "Units (0054,1001) is missing" : units == "CNTS" ? "Units (0054,1001) is CNTS (vendor counts, needs a private scale factor)"
                : units == "GML" ? "Units (0054,1001) is GML: the values are already SUV (g/mL)" : "Units (0054,1001) is '\(units)', not BQML"
            return (nil, "SUV not computed: \(why); voxels are the stored values")
        }
        let corrected = ds.strings(Tag.correctedImage)
        if !corrected.isEmpty, !(corrected.contains("ATTN") && corrected.contains("DECY")) {
            return (nil, "SUV not computed: CorrectedImage (0028,0051) is \(corrected.joined(separator: "\\")), without both ATTN and DECY; voxels are Bq/mL")
        }
        let decay = ds.string(Tag.decayCorrection) ?? ""
        var missing: [String] = []
        if decay.isEmpty { missing.append("DecayCorrection (0054,1102)") }
        let weight = ds.double(Tag.patientWeight).flatMap { $0 > 0 ? $0 : nil }
        if weight == nil { missing.append("PatientWeight (0010,1030)") }
        let drug = ds.sequence(Tag.radiopharmaceuticalInformationSequence).first
        if drug == nil { missing.append("RadiopharmaceuticalInformationSequence (0054,0016)") }
        let dose = drug?.double(Tag.radionuclideTotalDose).flatMap { $0 > 0 ? $0 : nil }
        let halfLife = drug?.double(Tag.radionuclideHalfLife).flatMap { $0 > 0 ? $0 : nil }
        if drug != nil && dose == nil { missing.append("RadionuclideTotalDose (0018,1074)") }
        if drug != nil && halfLife == nil { missing.append("RadionuclideHalfLife (0018,1075)") }
        let seriesDay = DICOMTime.day(ds.string(Tag.seriesDate))
        let seriesTime = DICOMTime.seconds(ds.string(Tag.seriesTime))
        if seriesTime == nil { missing.append("SeriesTime (0008,0031)") }
        var injection: Double?
        var injectionHasDate = true
        if let dt = drug?.string(Tag.radiopharmaceuticalStartDateTime), let t = DICOMTime.dateTime(dt) {
            injection = t
        } else if let t = DICOMTime.seconds(drug?.string(Tag.radiopharmaceuticalStartTime)) {
            injection = t + Double(seriesDay ?? 0) * 86400
            injectionHasDate = false
        } else if drug != nil {
            missing.append("RadiopharmaceuticalStartTime (0018,1072) or StartDateTime (0018,1078)")
        }
        guard missing.isEmpty, let weight, let dose, let halfLife, let seriesTime, var injection else {
            return (nil, "SUV not computed: missing \(missing.joined(separator: ", ")); voxels are Bq/mL")
        }
        guard decay == "START" || decay == "ADMIN" else {
            return (nil, "SUV not computed: DecayCorrection (0054,1102) is '\(decay)' (only START and ADMIN are handled); voxels are Bq/mL")
        }
        var scan = seriesTime + Double(seriesDay ?? 0) * 86400
        var notes: [String] = []
        // A series time after the first acquisition means the series was re-made later.
        let acquisitions = slices.compactMap { s -> Double? in
            if let dt = s.string(Tag.acquisitionDateTime), let t = DICOMTime.dateTime(dt) { return t }
            guard let t = DICOMTime.seconds(s.string(Tag.acquisitionTime)) else { return nil }
            return t + Double(DICOMTime.day(s.string(Tag.acquisitionDate)) ?? seriesDay ?? 0) * 86400
        }
        if let earliest = acquisitions.min(), earliest < scan - 1e-6 {
            scan = earliest
            notes.append("series time is after the first acquisition, so the earliest AcquisitionTime is the scan start")
        }
        var elapsed = scan - injection
        if elapsed < 0 && !injectionHasDate {
            injection -= 86400
            elapsed += 86400
            notes.append("injection time is after the scan time on the same date: taken as the day before")
        }
        guard elapsed >= 0 else {
            return (nil, "SUV not computed: the injection (\(DICOMTime.describe(injection))) is after the scan start (\(DICOMTime.describe(scan))); voxels are Bq/mL")
        }
        let decayed = decay == "ADMIN" ? dose : dose * pow(2, -elapsed / halfLife)
        let factor = weight * 1000 / decayed
        let note = String(format: "SUVbw = Bq/mL × %.6g (weight %.1f kg, dose %.4g Bq decayed over %.0f s with half-life %.1f s to %.4g Bq; DecayCorrection %@)",
                          factor, weight, dose, decay == "ADMIN" ? 0 : elapsed, halfLife, decayed, decay)
        return (factor, ([note] + notes).joined(separator: "; "))
    }
}

/// DICOM DA/TM/DT values as days and seconds (no time zones: all times are taken as local).
enum DICOMTime {
    /// Days since 1970-01-01 of "YYYYMMDD" (or the old "YYYY.MM.DD").
    static func day(_ s: String?) -> Int? {
        guard let digits = s?.filter(\.isNumber), digits.count >= 8,
              let y = Int(digits.prefix(4)), let m = Int(digits.dropFirst(4).prefix(2)), let d = Int(digits.dropFirst(6).prefix(2)),
              (1...12).contains(m), (1...31).contains(d) else { return nil }
        // Days from the civil calendar (Howard Hinnant's algorithm).
        let yy = m <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// Seconds since midnight of "HHMMSS.FFFFFF" (or "HH:MM:SS.frac", or shorter "HHMM").
    static func seconds(_ s: String?) -> Double? {
        guard var t = s?.trimmingCharacters(in: .whitespaces), !t.isEmpty else { return nil }
        t.removeAll { $0 == ":" }
        let parts = t.split(separator: ".", maxSplits: 1)
        let whole = String(parts[0])
        guard whole.count >= 2, whole.allSatisfy(\.isNumber), let h = Int(whole.prefix(2)) else { return nil }
        let m = whole.count >= 4 ? Int(whole.dropFirst(2).prefix(2)) ?? 0 : 0
        let sec = whole.count >= 6 ? Int(whole.dropFirst(4).prefix(2)) ?? 0 : 0
        let fraction = parts.count > 1 ? Double("0." + parts[1].filter(\.isNumber)) ?? 0 : 0
        return Double(h * 3600 + m * 60 + sec) + fraction
    }

    /// Seconds since 1970 of "YYYYMMDDHHMMSS.FFFFFF" (a time-zone suffix is ignored).
    static func dateTime(_ s: String) -> Double? {
        let core = s.split(whereSeparator: { $0 == "+" || $0 == "-" }).first.map(String.init) ?? s
        guard core.count >= 8, let d = day(String(core.prefix(8))) else { return nil }
        let time = core.count > 8 ? seconds(String(core.dropFirst(8))) ?? 0 : 0
        return Double(d) * 86400 + time
    }

    static func describe(_ t: Double) -> String {
        let s = Int(t.rounded()) % 86400
        return String(format: "%02d:%02d:%02d", s / 3600, s % 3600 / 60, s % 60)
    }
}
