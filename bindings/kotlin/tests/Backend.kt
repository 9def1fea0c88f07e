package io.keyway.tests

import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.time.Duration

/** The operator token the tests start Mission Control with. */
const val OPERATOR_TOKEN = "op-keyway-binding-tests-0123456789abcdef"

/**
 * The reference backend (Mission Control) as a process on 127.0.0.1 with an ephemeral port,
 * and the few manager calls the tests make. The JSON needed is tiny, so fields are read with
 * patterns rather than a JSON library.
 */
class MissionControl(binary: String, db: String) : AutoCloseable {
    private val process: Process = ProcessBuilder(binary, "--db", db, "--listen", "127.0.0.1:0")
        .redirectError(ProcessBuilder.Redirect.DISCARD)
        .apply { environment()["KEYWAY_MC_OPERATOR_TOKEN"] = OPERATOR_TOKEN }
        .start()
    val baseUrl: String
    // Creating a property needs the operator token; the manager's token replaces it after.
    private var token: String? = OPERATOR_TOKEN
    private val http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build()

    init {
        val line = process.inputStream.bufferedReader().readLine() ?: ""
        baseUrl = Regex("listening on (http://127\\.0\\.0\\.1:\\d+)").find(line)?.groupValues?.get(1)
            ?: run { close(); error("mission-control did not start: $line") }
    }

    override fun close() {
        process.destroy()
        if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) process.destroyForcibly()
    }

    fun call(method: String, path: String, body: String? = null): String {
        val builder = HttpRequest.newBuilder(URI.create(baseUrl + path))
            .timeout(Duration.ofSeconds(15))
            .header("Content-Type", "application/json")
            .method(method, body?.let { HttpRequest.BodyPublishers.ofString(it) } ?: HttpRequest.BodyPublishers.noBody())
        token?.let { builder.header("Authorization", "Bearer $it") }
        val resp = http.send(builder.build(), HttpResponse.BodyHandlers.ofString())
        check(resp.statusCode() in 200..299) { "$method $path: ${resp.statusCode()} ${resp.body()}" }
        return resp.body()
    }

    private fun field(json: String, name: String): String =
        Regex("\"$name\"\\s*:\\s*\"?([^\",}]*)").find(json)?.groupValues?.get(1) ?: error("no $name in $json")

    fun createProperty(name: String = "Elm Court") {
        val created = call("POST", "/v1/properties", """{"name":"$name","manager_name":"Pat"}""")
        token = field(created.substringAfter("\"manager\""), "token")
    }

    /** The door's provisioning JSON (what a lock is installed with). */
    fun createDoor(name: String): String = call("POST", "/v1/doors", """{"name":"$name","online":false}""")

    /** Invites a person with an app key for `doors`; returns the invite token. */
    fun invite(name: String, doors: List<UInt>): String {
        val resp = call(
            "POST", "/v1/invites",
            """{"name":"$name","contact":"$name@example.test","access":"app_key","keys":[{"doors":[${doors.joinToString(",")}],"expiry":"never"}],"resident":true}""",
        )
        val person = field(resp, "person_id")
        val outbox = call("GET", "/v1/outbox")
        val message = Regex("\\{[^{}]*\"person_id\"\\s*:\\s*\"?$person\"?[,}][^{}]*\\}").find(outbox)?.value
            ?: error("no welcome message for person $person")
        return field(message, "token")
    }
}
