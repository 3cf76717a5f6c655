import Foundation
import XCTest
import TestSupport
import VolumeIO
@testable import Radiomics

/// Texture features against PyRadiomics 3.0.1 run live on the same NIfTI files (written by
/// SimpleITK). The images hold discretised levels already and PyRadiomics runs with binWidth 1,
/// so its binning keeps them (the lowest level in each ROI is 1).
final class TexturePyRadiomicsTests: XCTestCase {
    /// Writes the volumes, runs PyRadiomics in three set-ups and prints JSON
    /// {case: {setup: {feature: value}}}.
    static let script = #"""
import sys, json, logging
import numpy as np
import SimpleITK as sitk
from scipy import ndimage
import radiomics
from radiomics import featureextractor
radiomics.setVerbosity(logging.ERROR)
out = sys.argv[1]

# Synthetic case: smoothed noise quantised to 12 levels (level 7 left empty), in an
# ellipsoid plus a detached blob, anisotropic spacing.
rng = np.random.default_rng(20240611)
nz, ny, nx = 24, 36, 40
noise = ndimage.gaussian_filter(rng.normal(size=(nz, ny, nx)), (1.0, 1.5, 1.5))
edges = np.quantile(noise, np.linspace(0, 1, 13)[1:-1])
levels = np.digitize(noise, edges) + 1
levels[levels == 7] = 8
z, y, x = np.mgrid[0:nz, 0:ny, 0:nx]
mask = ((z - 11.5) / 10) ** 2 + ((y - 17) / 15) ** 2 + ((x - 18) / 16) ** 2 <= 1
mask |= ((z - 20) ** 2 + (y - 31) ** 2 + (x - 36) ** 2) <= 6
levels = levels - levels[mask].min() + 1
levels[~mask] = 0
for name, arr in (("synthetic_image", levels), ("synthetic_mask", mask)):
    im = sitk.GetImageFromArray(arr.astype(np.float32 if name.endswith("image") else np.uint8))
    im.SetSpacing((0.8, 0.8, 2.5))
    sitk.WriteImage(im, f"{out}/{name}.nii.gz")

# Flat case: one level in a 4×3×4 box, where several features are 0/0 and PyRadiomics
# returns fixed stand-ins.
flat = np.zeros((6, 6, 6), np.uint8)
flat[1:5, 1:4, 1:5] = 1
sitk.WriteImage(sitk.GetImageFromArray(flat.astype(np.float32)), f"{out}/flat_image.nii.gz")
sitk.WriteImage(sitk.GetImageFromArray(flat), f"{out}/flat_mask.nii.gz")

cases = {
    "flat": (f"{out}/flat_image.nii.gz", f"{out}/flat_mask.nii.gz"),
    "synthetic": (f"{out}/synthetic_image.nii.gz", f"{out}/synthetic_mask.nii.gz"),
    "phantom": (sys.argv[2], sys.argv[3]),
}
everything = ["glcm", "glrlm", "glszm", "gldm", "ngtdm"]
setups = {
    "3D": (dict(binWidth=1, gldm_a=0), everything),
    "force2D": (dict(binWidth=1, force2D=True, force2Ddimension=0, gldm_a=1), everything),
    "merged": (dict(binWidth=1, weightingNorm="no_weighting"), ["glcm", "glrlm"]),
    "glcm_d2": (dict(binWidth=1, distances=[2]), ["glcm"]),
    "neighbourhood_d2": (dict(binWidth=1, distances=[1, 2]), ["gldm", "ngtdm"]),
}
result = {}
for case, (image, mask) in cases.items():
    result[case] = {}
    for setup, (settings, classes) in setups.items():
        ex = featureextractor.RadiomicsFeatureExtractor(**settings)
        ex.disableAllFeatures()
        for c in classes:
            ex.enableFeatureClassByName(c)
        r = ex.execute(image, mask)
        result[case][setup] = {k[len("original_"):]: float(v) for k, v in r.items() if k.startswith("original_")}
print(json.dumps(result))
"""#

    func testMatchesPyRadiomics() throws {
        let dir = try TestEnv.scratch(self, "pyrad-texture")
        let phantomImage = try TestEnv.testdata("ibsi/digital_phantom_image.nii.gz")
        let phantomMask = try TestEnv.testdata("ibsi/digital_phantom_mask.nii.gz")
        let json = try TestEnv.json(try TestEnv.runPython(Self.script, [dir, phantomImage, phantomMask]))
        guard let peer = json as? [String: [String: [String: Double]]] else { return XCTFail("unexpected PyRadiomics output") }
        let cases = ["flat": ("\(dir)/flat_image.nii.gz", "\(dir)/flat_mask.nii.gz"),
                     "synthetic": ("\(dir)/synthetic_image.nii.gz", "\(dir)/synthetic_mask.nii.gz"),
                     "phantom": (phantomImage, phantomMask)]
        // Same definitions, so only floating-point noise (PyRadiomics adds 2.2e-16 inside its
        // logarithms): |ours − PyRadiomics| ≤ 1e-6 · max(1, |PyRadiomics|).
        var compared = 0, worst = 0.0
        var failures: [String] = []
        for (name, files) in cases.sorted(by: { $0.key < $1.key }) {
            let roi = try Self.roi(image: files.0, mask: files.1)
            for setup in Self.setups {
                guard let theirs = peer[name]?[setup.name] else { return XCTFail("PyRadiomics gave no \(name)/\(setup.name)") }
                var options = TextureOptions()
                options.convention = .pyradiomics
                options.families = setup.families
                options.ngldmCoarseness = setup.alpha
                options.glcmDistance = setup.glcmDistance
                options.neighbourhoodDistance = setup.neighbourhood
                var values = try TextureFeatures.compute(roi, options)
                if setup.merged {
                    // weightingNorm "no_weighting" sums the 13 directional matrices: IBSI 3D merged.
                    values = values.filter { $0.tag.hasSuffix("_3D_comb") }
                        .map { FeatureValue(String($0.tag.dropLast("_3D_comb".count)) + "_3D_avg", $0.value) }
                }
                let ours = TextureFeatures.pyradiomicsFeatures(values, force2D: setup.force2D)
                let setup = setup.name
                XCTAssertEqual(Set(ours.map(\.tag)), Set(theirs.keys), "\(name)/\(setup): the same PyRadiomics features")
                for f in ours {
                    guard let t = theirs[f.tag] else { continue }
                    compared += 1
                    let err = abs(f.value - t) / max(1, abs(t))
                    worst = max(worst, err)
                    if !(err <= 1e-6) { failures.append("\(name)/\(setup) \(f.tag): ours \(f.value), PyRadiomics \(t)") }
                }
            }
        }
        print("PyRadiomics texture: \(compared - failures.count)/\(compared) within 1e-6 relative (worst \(worst))")
        XCTAssertGreaterThan(compared, 200)
        XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n"))
    }

    /// PyRadiomics set-ups (see the script) and the options that reproduce them.
    static let setups: [(name: String, families: [TextureFamily], force2D: Bool, merged: Bool, alpha: Int, glcmDistance: Int, neighbourhood: Int)] = [
        ("3D", [.glcm, .glrlm, .glszm, .ngldm, .ngtdm], false, false, 0, 1, 1),
        ("force2D", [.glcm, .glrlm, .glszm, .ngldm, .ngtdm], true, false, 1, 1, 1),
        ("merged", [.glcm, .glrlm], false, true, 0, 1, 1),
        ("glcm_d2", [.glcm], false, false, 0, 2, 1),
        ("neighbourhood_d2", [.ngldm, .ngtdm], false, false, 0, 1, 2),
    ]

    /// Levels straight from the image (already discretised), Ng = the highest level present.
    static func roi(image: String, mask: String) throws -> DiscretisedROI {
        let im = try NIfTI.read(image), mk = try NIfTI.read(mask)
        let inside = mk.voxels.map { $0 > 0 }
        let levels = zip(im.voxels, inside).map { $1 ? Int32($0.rounded()) : 0 }
        return DiscretisedROI(size: im.size, spacing: im.spacing, levels: levels,
                              levelCount: Int(levels.max() ?? 1), morphologicalMask: inside)
    }
}
