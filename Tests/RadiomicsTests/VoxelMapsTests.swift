import Foundation
import XCTest
import TestSupport
import VolumeIO
@testable import Radiomics

/// Voxel-wise feature maps: each map value against the extractor run on that voxel's
/// neighbourhood by hand, and against PyRadiomics 3.0.1's voxel-based extraction run live.
final class VoxelMapsTests: XCTestCase {
    /// 12×12×6 smooth-ish random image (values 0…400) with an ellipsoid ROI of label 2 (~300
    /// voxels) beside a label-1 block that must be ignored.
    static func synthetic() -> (image: Volume, mask: Volume) {
        let size = SIMD3(12, 12, 6)
        var state: UInt64 = 0x9E3779B97F4A7C15
        func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
        var image = [Float](repeating: 0, count: 12 * 12 * 6), mask = image
        for k in 0..<6 { for j in 0..<12 { for i in 0..<12 {
            let v = i + 12 * (j + 12 * k)
            image[v] = Float((200 + 120 * sin(Double(i) * 0.9 + Double(k)) * cos(Double(j) * 0.7) + 60 * next()).rounded())
            let e = pow((Double(i) - 5.5) / 5.2, 2) + pow((Double(j) - 5.5) / 5.2, 2) + pow((Double(k) - 2.5) / 2.9, 2)
            mask[v] = e <= 1 ? 2 : (i == 0 && j < 3 ? 1 : 0)
        } } }
        let origin = SIMD3(10.0, -5, 3), spacing = SIMD3(0.8, 0.9, 2.0)
        return (Volume(size: size, spacing: spacing, origin: origin, voxels: image),
                Volume(size: size, spacing: spacing, origin: origin, voxels: mask))
    }

    /// Image index of map voxel (0, 0, 0); the map must sit on the image grid.
    func offset(of map: Volume, on image: Volume) throws -> SIMD3<Int> {
        let c = image.continuousIndex(ofPoint: map.origin)
        let r = SIMD3(Int(c.x.rounded()), Int(c.y.rounded()), Int(c.z.rounded()))
        XCTAssertLessThan(abs(c.x - Double(r.x)) + abs(c.y - Double(r.y)) + abs(c.z - Double(r.z)), 1e-6)
        XCTAssertEqual(map.spacing, image.spacing)
        XCTAssertEqual(map.direction, image.direction)
        return r
    }

    /// IBSI convention, every family and aggregation: the map value at a voxel is, bit for bit
    /// after rounding to Float32, what `RadiomicsExtractor` gives for the ROI ∩ 3×3×3 box around
    /// it. Fixed bin size with a re-segmentation range makes the extractor's own discretisation
    /// equal to the whole ROI's, so nothing is shared between the two paths but the definitions.
    func testMapValueEqualsExtractorOnNeighbourhood() throws {
        let (image, mask) = Self.synthetic()
        var p = RadiomicsParameters()
        p.discretisation = .fixedBinSize(20)
        p.resegmentationLower = 0
        p.resegmentationUpper = 400
        var texture = TextureOptions()   // all families, 2D, 2.5D and 3D, both mergings
        texture.convention = .ibsi
        let maps = try VoxelFeatureMaps.compute(image: image, mask: mask, label: 2, parameters: p,
                                                texture: texture, kernelRadius: 1, features: nil)
        XCTAssertTrue(maps.contains { $0.tag == "stat_mean" } && maps.contains { $0.tag == "dzm_sde_3D" }
                      && maps.contains { $0.tag == "cm_joint_max_2D_comb" })
        let o = try offset(of: maps[0].volume, on: image)

        var extractorParameters = p
        extractorParameters.families = [.statistics, .texture]
        let t = texture
        let extractor = RadiomicsExtractor(parameters: extractorParameters) { try! TextureFeatures.compute($0, t) }
        var checked = 0, inside = 0
        for k in 0..<6 { for j in 0..<12 { for i in 0..<12 where mask[i, j, k] == 2 {
            inside += 1
            guard inside % 5 == 1 || i == 0 || k == 0 || k == 5 else { continue }
            var kernel = mask
            for v in 0..<kernel.count {
                let c = SIMD3(v % 12, (v / 12) % 12, v / 144)
                let d = c &- SIMD3(i, j, k)
                kernel.voxels[v] = kernel.voxels[v] == 2 && max(abs(d.x), abs(d.y), abs(d.z)) <= 1 ? 1 : 0
            }
            let reference = try extractor.extract(image: image, mask: kernel, label: 1)
            XCTAssertEqual(reference.count, maps.count)
            for f in reference {
                guard let map = maps.first(where: { $0.tag == f.tag })?.volume else { return XCTFail("no map \(f.tag)") }
                let value = map[i - o.x, j - o.y, k - o.z]
                let expected = Float(f.value)
                XCTAssertTrue(value == expected || (value.isNaN && expected.isNaN),
                              "\(f.tag) at (\(i), \(j), \(k)): map \(value), extractor \(expected)")
                checked += 1
            }
        } } }
        print("voxel maps vs extractor on hand-built neighbourhoods: \(checked) values equal")
        XCTAssertGreaterThan(checked, 10_000)

        // Outside the ROI (label 1 included) every map is NaN; inside, stat_mean is finite.
        let mean = maps.first { $0.tag == "stat_mean" }!.volume
        for k in 0..<mean.size.z { for j in 0..<mean.size.y { for i in 0..<mean.size.x {
            let inROI = mask[i + o.x, j + o.y, k + o.z] == 2
            XCTAssertEqual(mean[i, j, k].isNaN, !inROI)
        } } }
    }

    /// `features` keeps the listed tags (same values as the full run) and refuses unknown ones.
    func testFeatureFilter() throws {
        let (image, mask) = Self.synthetic()
        var p = RadiomicsParameters()
        p.discretisation = .fixedBinNumber(16)
        let all = try VoxelFeatureMaps.compute(image: image, mask: mask, label: 2, parameters: p)
        XCTAssertFalse(all.contains { $0.tag.contains("_2D") || $0.tag.contains("_2_5D") }, "default texture is 3D only")
        let wanted = ["cm_contrast_3D_avg", "stat_var", "ngt_coarseness_3D"]
        let some = try VoxelFeatureMaps.compute(image: image, mask: mask, label: 2, parameters: p, features: wanted)
        XCTAssertEqual(Set(some.map(\.tag)), Set(wanted))
        for m in some {
            let full = all.first { $0.tag == m.tag }!.volume
            XCTAssertEqual(m.volume.size, full.size)
            XCTAssertTrue(zip(m.volume.voxels, full.voxels).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }, m.tag)
        }
        XCTAssertThrowsError(try VoxelFeatureMaps.compute(image: image, mask: mask, label: 2, parameters: p,
                                                          features: ["cm_contrast_2D_avg"]))
        XCTAssertThrowsError(try VoxelFeatureMaps.compute(image: image, mask: mask, label: 2, parameters: p,
                                                          features: ["firstorder_Mean"]))
        XCTAssertThrowsError(try VoxelFeatureMaps.compute(image: image, mask: mask, label: 7, parameters: p))
        XCTAssertThrowsError(try VoxelFeatureMaps.compute(image: image, mask: mask, label: 2, parameters: p, kernelRadius: 0))
    }

    /// PyRadiomics writes the volume with SimpleITK, runs voxel-based extraction
    /// (kernelRadius 1, maskedKernel) and prints every map on the full image grid, null outside
    /// the ROI.
    static let script = #"""
import sys, json, logging
import numpy as np
import SimpleITK as sitk
from scipy import ndimage
import radiomics
from radiomics import featureextractor
radiomics.setVerbosity(logging.ERROR)
out = sys.argv[1]
rng = np.random.default_rng(7)
nz, ny, nx = 6, 12, 12
img = ndimage.gaussian_filter(rng.normal(size=(nz, ny, nx)), 0.8) * 300 + 200
z, y, x = np.mgrid[0:nz, 0:ny, 0:nx]
mask = (((z - 2.5) / 2.9) ** 2 + ((y - 5.5) / 5.2) ** 2 + ((x - 5.5) / 5.2) ** 2 <= 1).astype(np.uint8)
for name, arr in (("image", img.astype(np.float32)), ("mask", mask)):
    im = sitk.GetImageFromArray(arr)
    im.SetSpacing((0.8, 0.9, 2.0)); im.SetOrigin((10, -5, 3))
    sitk.WriteImage(im, f"{out}/{name}.nii.gz")
image = sitk.ReadImage(f"{out}/image.nii.gz")
result = {}
for setup, settings in {"binWidth": dict(binWidth=25), "binCount": dict(binCount=16)}.items():
    ex = featureextractor.RadiomicsFeatureExtractor(voxelBased=True, kernelRadius=1, maskedKernel=True, **settings)
    ex.disableAllFeatures()
    ex.enableFeaturesByName(firstorder=["Mean", "Variance", "Energy"])
    ex.enableFeatureClassByName("glcm")
    maps = {}
    for k, v in ex.execute(f"{out}/image.nii.gz", f"{out}/mask.nii.gz", voxelBased=True).items():
        if not k.startswith("original_") or not isinstance(v, sitk.Image):
            continue
        a = sitk.GetArrayFromImage(v).astype(float)
        i0 = image.TransformPhysicalPointToIndex(v.GetOrigin())
        full = np.full((nz, ny, nx), np.nan)
        full[i0[2]:i0[2] + a.shape[0], i0[1]:i0[1] + a.shape[1], i0[0]:i0[0] + a.shape[2]] = a
        full[mask == 0] = np.nan
        maps[k[len("original_"):]] = [None if np.isnan(t) else float(t) for t in full.ravel()]
    result[setup] = maps
print(json.dumps(result))
"""#

    /// `.pyradiomics`, first-order Mean/Variance/Energy and every GLCM feature (3D, averaged
    /// over the 13 directions), fixed bin width 25 and fixed bin count 16: every ROI voxel
    /// within 1e-5·max(1, |PyRadiomics|) (our maps are Float32).
    func testMatchesPyRadiomicsVoxelBased() throws {
        let dir = try TestEnv.scratch(self, "voxel-maps")
        let json = try TestEnv.json(try TestEnv.runPython(Self.script, [dir]))
        guard let peer = json as? [String: [String: [Any]]] else { return XCTFail("unexpected PyRadiomics output") }
        let image = try VolumeFile.read("\(dir)/image.nii.gz"), mask = try VolumeFile.read("\(dir)/mask.nii.gz")
        var alias = ["firstorder_Mean": "stat_mean", "firstorder_Variance": "stat_var", "firstorder_Energy": "stat_energy"]
        for info in TextureFeatures.catalog where info.family == .glcm {
            if let name = info.pyradiomics { alias[name] = info.stem + "_3D_avg" }
        }
        var compared = 0, worst = 0.0, failures: [String] = []
        for (setup, discretisation) in [("binWidth", Discretisation.fixedBinSize(25)), ("binCount", .fixedBinNumber(16))] {
            guard let theirs = peer[setup] else { return XCTFail("PyRadiomics gave no \(setup)") }
            var p = RadiomicsParameters()
            p.convention = .pyradiomics
            p.discretisation = discretisation
            var texture = TextureOptions()
            texture.families = [.glcm]
            texture.dimensions = [.threeD]
            texture.merging = [.averaged]
            let maps = try VoxelFeatureMaps.compute(image: image, mask: mask, label: 1, parameters: p, texture: texture,
                                                    kernelRadius: 1, features: nil)
            let o = try offset(of: maps[0].volume, on: image)
            XCTAssertEqual(Set(theirs.keys).subtracting(alias.keys), [], "every PyRadiomics map has an IBSI tag")
            for (name, values) in theirs.sorted(by: { $0.key < $1.key }) {
                guard let tag = alias[name], let map = maps.first(where: { $0.tag == tag })?.volume else {
                    failures.append("\(setup) \(name): no map"); continue
                }
                for v in 0..<values.count {
                    let c = SIMD3(v % 12, (v / 12) % 12, v / 144)
                    let local = c &- o
                    let inMap = local.x >= 0 && local.y >= 0 && local.z >= 0 && local.x < map.size.x && local.y < map.size.y && local.z < map.size.z
                    let ours = inMap ? Double(map[local.x, local.y, local.z]) : .nan
                    guard let t = values[v] as? Double else {
                        if !ours.isNaN { failures.append("\(setup) \(name) at \(c): ours \(ours) outside PyRadiomics' ROI") }
                        continue
                    }
                    compared += 1
                    let err = abs(ours - t) / max(1, abs(t))
                    worst = max(worst, err.isNaN ? .infinity : err)
                    if !(err <= 1e-5) { failures.append("\(setup) \(name) at \(c): ours \(ours), PyRadiomics \(t)") }
                }
            }
        }
        print("voxel maps vs PyRadiomics voxel-based: \(compared - failures.count)/\(compared) within 1e-5 relative (worst \(worst))")
        XCTAssertGreaterThan(compared, 10_000)
        XCTAssertTrue(failures.isEmpty, failures.prefix(40).joined(separator: "\n"))
    }
}
