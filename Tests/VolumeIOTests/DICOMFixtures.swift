import Foundation
import TestSupport

/// DICOM files made by pydicom for the tests: re-encodings of the real CT series and
/// structure set, a synthetic PET series with the SUV tags, and compressed-syntax files.
enum DICOMFixtures {
    private static let common = """
    import sys, os, glob, copy
    import numpy as np
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid
    import warnings
    warnings.filterwarnings("ignore")

    def lengths(ds, undefined):
        for e in ds:
            if e.VR == "SQ":
                e.is_undefined_length = undefined
                for item in e.value:
                    item.is_undefined_length_sequence_item = undefined
                    lengths(item, undefined)

    """

    /// Copies of `files` written with `syntax` ("explicit"/"implicit") and sequences of
    /// undefined or defined length, into `out`.
    static func reencode(_ files: [String], to out: String, explicit: Bool, undefinedLengths: Bool) throws {
        let script = common + """
        out, syntax, undefined, files = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4:]
        os.makedirs(out, exist_ok=True)
        for f in files:
            d = pydicom.dcmread(f)
            lengths(d, undefined)
            d.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian if syntax == "explicit" else ImplicitVRLittleEndian
            d.save_as(os.path.join(out, os.path.basename(f)), enforce_file_format=True)
        """
        _ = try TestEnv.runPython(script, [out, explicit ? "explicit" : "implicit", undefinedLengths ? "1" : "0"] + files)
    }

    /// A synthetic PET series (6 oblique slices of 5×4, uint16 with a different RescaleSlope
    /// per slice, files named out of order) with the SUV tags; `variant` drops or changes one
    /// tag: "weight" (no PatientWeight), "cnts" (Units CNTS), "none" (DecayCorrection NONE),
    /// "admin" (DecayCorrection ADMIN), "datetime" (injection as StartDateTime the day before).
    /// Returns the SUV factor computed independently in Python (0 when not computable).
    static func pet(_ out: String, variant: String = "") throws -> Double {
        let script = common + """
        out, variant = sys.argv[1], sys.argv[2]
        os.makedirs(out, exist_ok=True)
        series, frame, study = generate_uid(), generate_uid(), generate_uid()
        a = np.deg2rad(20.0)
        row = np.array([1.0, 0.0, 0.0]); col = np.array([0.0, np.cos(a), -np.sin(a)])
        normal = np.cross(row, col)
        origin = np.array([-30.5, 12.25, -400.0])
        weight, dose, half = 70.5, 3.7e8, 6586.2
        for k in range(6):
            ds = Dataset()
            ds.file_meta = FileMetaDataset()
            ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.128"
            ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
            ds.Modality = "PT"; ds.SeriesInstanceUID = series; ds.StudyInstanceUID = study
            ds.FrameOfReferenceUID = frame; ds.SeriesDescription = "synthetic PET"
            ds.SeriesDate = "20200101"; ds.SeriesTime = "101000"
            ds.AcquisitionDate = "20200101"; ds.AcquisitionTime = "101000"
            ds.InstanceNumber = 6 - k
            ds.ImageOrientationPatient = [float(x) for x in np.concatenate([row, col])]
            ds.ImagePositionPatient = [float(x) for x in origin + k * 3.27 * normal]
            ds.PixelSpacing = [4.0, 3.5]; ds.SliceThickness = 3.27
            ds.Rows, ds.Columns = 4, 5
            ds.SamplesPerPixel = 1; ds.PhotometricInterpretation = "MONOCHROME2"
            ds.BitsAllocated = 16; ds.BitsStored = 16; ds.HighBit = 15; ds.PixelRepresentation = 0
            ds.RescaleSlope = f"{0.731 + 0.113 * k:.6f}"; ds.RescaleIntercept = "0"
            ds.Units = "CNTS" if variant == "cnts" else "BQML"
            ds.DecayCorrection = {"none": "NONE", "admin": "ADMIN"}.get(variant, "START")
            ds.CorrectedImage = ["ATTN", "DECY"]
            if variant != "weight":
                ds.PatientWeight = str(weight)
            drug = Dataset()
            drug.RadionuclideTotalDose = str(dose); drug.RadionuclideHalfLife = str(half)
            if variant == "datetime":
                drug.RadiopharmaceuticalStartDateTime = "20191231235000.00"
            else:
                drug.RadiopharmaceuticalStartTime = "091500.00"
            ds.RadiopharmaceuticalInformationSequence = Sequence([drug])
            pixels = ((np.arange(20, dtype=np.uint16) * 97 + k * 1000) % 30000).astype(np.uint16)
            ds.PixelData = pixels.tobytes()
            ds.save_as(os.path.join(out, f"pet_{(k * 7) % 6}.dcm"), enforce_file_format=True)
        elapsed = {"datetime": 37200}.get(variant, 3300)   # 23:50 the day before, or 09:15, to 10:10
        if variant in ("weight", "cnts", "none"):
            print(0)
        elif variant == "admin":
            print(weight * 1000 / dose)
        else:
            print(repr(weight * 1000 / (dose * 2 ** (-elapsed / half))))
        """
        let text = String(decoding: try TestEnv.runPython(script, [out, variant]), as: UTF8.self)
        return Double(text.trimmingCharacters(in: .whitespacesAndNewlines))!
    }

    /// A copy of `file` whose pixel data is encapsulated under `syntax` (the bytes are not a
    /// real JPEG: the reader must refuse before decoding).
    static func encapsulated(_ file: String, to out: String, syntax: String) throws {
        let script = common + """
        from pydicom.encaps import encapsulate
        src, out, syntax = sys.argv[1:4]
        d = pydicom.dcmread(src)
        d.PixelData = encapsulate([b"\\xff\\xd8\\xff\\xd9"])
        d["PixelData"].VR = "OB"
        d["PixelData"].is_undefined_length = True
        d.file_meta.TransferSyntaxUID = syntax
        d.save_as(out, enforce_file_format=True)
        """
        _ = try TestEnv.runPython(script, [file, out, syntax])
    }

    /// A deflated explicit VR little endian copy of `file`.
    static func deflated(_ file: String, to out: String) throws {
        let script = common + """
        from pydicom.uid import DeflatedExplicitVRLittleEndian
        src, out = sys.argv[1:3]
        d = pydicom.dcmread(src)
        d.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
        d.save_as(out, enforce_file_format=True)
        """
        _ = try TestEnv.runPython(script, [file, out])
    }

    /// A copy of `file` with 12 of 16 bits stored: unsigned with garbage in the top bits, or
    /// signed two's-complement 12-bit values that are not sign-extended.
    static func twelveBit(_ file: String, to out: String, signed: Bool) throws {
        let script = common + """
        src, out, signed = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
        d = pydicom.dcmread(src)
        d.BitsStored = 12; d.HighBit = 11; d.PixelRepresentation = 1 if signed else 0
        a = (np.arange(int(d.Rows) * int(d.Columns)) % 4096).astype(np.uint16)
        if not signed:
            a[::7] |= 0xF000
        d.PixelData = a.tobytes()
        d.RescaleIntercept = "-1024"
        d.save_as(out, enforce_file_format=True)
        """
        _ = try TestEnv.runPython(script, [file, out, signed ? "1" : "0"])
    }
}
