import Foundation
import Testing
import TestSupport
@testable import Maintenance

/// `--each` hands each guest's job to a worker as a typed ``JobRequest``
/// (`corral _maint-job`, JSON on stdin), not as a user command line.
@Suite struct EachRunnerTests {
    static let template = """
        #!/bin/sh
        # corral-template: probe
        # description: reads a guest
        # param: cow   the guest
        # disk: 1 source cow

        step look -- true
        """

    func request(dryRun: Bool = true) throws -> JobRequest {
        var request = JobRequest(template: try Template.parse(Self.template, path: "/nowhere/probe.sh"))
        request.library = TemplateLibrary(builtinDirectory: TestPaths.packageRoot + "/templates")
        request.dryRun = dryRun
        return request
    }

    /// A worker that cannot start is reported under the job's own name and
    /// the guest it was for (it was recorded as job "maint").
    @Test func aWorkerThatCannotStartIsReportedUnderTheJobsName() throws {
        var request = try request()
        request.parameters["cow"] = .text("/nowhere/g1.cow")
        let reports = EachRunner.run([.init(guest: "/nowhere/g1.cow", request: request)], jobs: 1,
                                     executable: "/nonexistent/corral", onResult: { _ in })
        #expect(reports.count == 1)
        #expect(reports.first?.job == "probe")
        #expect(reports.first?.guest == "/nowhere/g1.cow")
        #expect(reports.first?.ok == false)
        #expect(reports.first?.reason?.contains("cannot start /nonexistent/corral _maint-job") == true, "\(reports)")
    }

    /// The request survives the trip as the worker decodes it: parameters
    /// keep their kind (a flag stays a flag), settings and limits arrive.
    @Test func theRequestRoundTripsWithoutTheEnvironment() throws {
        var request = try request()
        request.parameters = ["cow": .text("g.cow"), "force": .flag(true)]
        request.limits = StepLimits(ready: 7, step: 9)
        request.settings.kernel = "/k/linux.uml"
        request.settings.environment = ["SECRET": "x"]
        let decoded = try JSONDecoder().decode(JobRequest.self, from: try JSONEncoder().encode(request))
        #expect(decoded.parameters == request.parameters)
        #expect(decoded.template == request.template)
        #expect(decoded.limits.ready == 7 && decoded.limits.step == 9)
        #expect(decoded.settings.kernel == "/k/linux.uml")
        #expect(decoded.settings.environment.isEmpty, "the worker inherits the environment; it is not sent")
        #expect(decoded.dryRun)
    }

    /// Through the real worker: each guest gets its own report, in order,
    /// with the reason a dry run found (a missing COW), and exit status.
    @Test func workersAnswerWithTheirGuestsReports() throws {
        try #require(FileManager.default.isExecutableFile(atPath: TestPaths.corral), "\(TestPaths.corral) missing: run swift build first")
        var orders: [EachRunner.Order] = []
        for name in ["/nowhere/a.cow", "/nowhere/b.cow"] {
            var request = try request()
            request.parameters["cow"] = .text(name)
            orders.append(.init(guest: name, request: request))
        }
        let reports = EachRunner.run(orders, jobs: 2, executable: TestPaths.corral, onResult: { _ in })
        #expect(reports.map(\.guest) == ["/nowhere/a.cow", "/nowhere/b.cow"])
        for report in reports {
            #expect(report.job == "probe")
            #expect(report.ok == false)
            #expect(report.reason?.contains("\(report.guest ?? "?")") == true, "\(report)")
        }
    }

    /// Every stored field of a request reaches the worker, or is named here
    /// as deliberately not sent. The coding keys are written by hand (the
    /// closures and descriptors cannot travel), so a field added later
    /// without a key would otherwise be dropped for `--each` in silence.
    @Test func everyFieldOfARequestIsSentOrDeliberatelyLeftOut() throws {
        var request = try request()
        request.settings.logPath = "/nowhere/console.log"
        let requestNotSent: Set = ["events"]
        let settingsNotSent: Set = ["environment", "bootEvents", "streams"]
        func sentKeys(_ value: some Encodable) throws -> Set<String> {
            let object = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(value))
            return Set((object as? [String: Any] ?? [:]).keys)
        }
        func storedFields(_ value: Any) -> Set<String> {
            Set(Mirror(reflecting: value).children.compactMap(\.label))
        }
        #expect(storedFields(request).subtracting(requestNotSent) == (try sentKeys(request)))
        #expect(storedFields(request.settings).subtracting(settingsNotSent) == (try sentKeys(request.settings)))
    }

    /// By hand, without a request: one line and exit 64, nothing run.
    @Test func theWorkerEntryRefusesAnythingButARequest() throws {
        let r = try runCorral([EachRunner.entryPoint], stdin: FileHandle(forReadingAtPath: "/dev/null"))
        #expect(r.status == 64, "\(r.summary)")
        #expect(r.stderr.contains("no job request on stdin"), "\(r.summary)")
        #expect(r.stdout.isEmpty)
    }
}
