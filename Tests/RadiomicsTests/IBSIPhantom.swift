import Foundation
import XCTest
import TestSupport
import VolumeIO
@testable import Radiomics

/// The IBSI-1 digital phantom (5×4×4 voxels of 2 mm, integer intensities 1, 3, 4, 6 in 74 ROI
/// voxels) and its configuration, for the tests; PipelineTests checks every reference value.
enum IBSIPhantom {
    /// The phantom configuration of the IBSI reference manual: no interpolation, no
    /// re-segmentation; the intensities are already the grey levels (fixed bin size 1 from the
    /// ROI minimum 1 keeps them), and the intensity-volume histogram uses the intensities themselves.
    static func phantomParameters() -> RadiomicsParameters {
        var p = RadiomicsParameters()
        p.discretisation = .fixedBinSize(1)
        p.ivhDiscretisation = .intensities(step: 1)
        return p
    }

    static func loadPhantom() throws -> (image: Volume, mask: Volume) {
        (try NIfTI.read(try TestEnv.testdata("ibsi/digital_phantom_image.nii.gz")),
         try NIfTI.read(try TestEnv.testdata("ibsi/digital_phantom_mask.nii.gz")))
    }

    static func splitCSV(_ line: String) -> [String] {
        var cells: [String] = [], cur = "", quoted = false
        for ch in line {
            if ch == "\"" { quoted.toggle() } else if ch == "," && !quoted { cells.append(cur); cur = "" } else { cur.append(ch) }
        }
        cells.append(cur)
        return cells.map { $0.trimmingCharacters(in: .whitespaces) }
    }
}
