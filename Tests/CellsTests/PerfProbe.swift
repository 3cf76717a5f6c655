@testable import Cells
import Foundation
import ImageCore
import SlideIO
import TestSupport
import XCTest

final class PerfProbe: XCTestCase {
    func testProbe() throws {
        guard ProcessInfo.processInfo.environment["CELLS_PERF"] != nil else { throw XCTSkip("perf probe") }
        let slide = try Slide.open(path: try TestEnv.testdata("slides/CMU-1-Small-Region.svs"))
        func t(_ f: () throws -> Void) rethrows -> Double { let s = DispatchTime.now(); try f(); return Double(DispatchTime.now().uptimeNanoseconds - s.uptimeNanoseconds) / 1e6 }
        var img: RGBImage!
        print("read ms", try t { img = try slide.readRegion(x: 0, y: 0, level: 0, width: slide.width, height: slide.height) })
        let s = StainVectors.ruifrok
        let p = NucleiParameters()
        let settings = PixelSettings(p, mpp: 0.5, stains: try StainVectors.odMatrix(s[0], s[1], s[2]), threshold: 0.1)
        let seg = TileSegmenter(settings: settings)
        let w = 1024, h = 1024
        var win = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h { for x in 0..<(w * 3) { win[y * w * 3 + x] = img.pixels[(y + 500) * img.width * 3 + x] } }
        for _ in 0..<2 {
            print("signal ms", t { win.withUnsafeBufferPointer { seg.computeSignal(rgb: $0.baseAddress!, plane: nil, width: w, height: h) } })
            var c = 0
            print("segment ms", t { c = seg.segment() })
            let meas = NucleusMeasurer(settings: settings, singleChannel: false)
            var nn: [Nucleus] = []
            print("measure ms", t { nn = meas.measure(labels: seg.labels, count: c, planes: seg.stain, width: w, height: h, windowX: 0, windowY: 0, mapping: OutputMapping(originX: 0, originY: 0, scale: 1)) { _, _ in -1 } }, nn.count)
        }
        var n = 0
        for wk in [1, 2] {
            let d = try NucleiDetector(workers: wk)
            print("slide ms workers \(wk)", try t { try d.detect(slide: slide) { n += $0.count } }, n)
            print("overview ms", try t { _ = try NucleiDetector.overview(slide: slide, region: PixelRect(x: 0, y: 0, width: slide.width, height: slide.height), patches: nil) })
        }
        let d = try NucleiDetector()
        print("image ms", try t { n = try d.detect(image: img, mpp: 0.499).nuclei.count }, n)
    }
}
