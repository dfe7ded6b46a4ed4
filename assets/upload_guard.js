// dcc.Upload silently drops a file above max_size; say so instead, naming the file and the limit.
(function () {
    function check(files) {
        var limit = document.getElementById("data-upload-limit");
        if (!limit || !files || !files.length || !window.dash_clientside) { return; }
        var max = Number(limit.getAttribute("data-max-bytes"));
        var file = files[0];
        var message = "";
        if (max > 0 && file.size > max) {
            message = "“" + file.name + "” is " + (file.size / 1048576).toFixed(1) + " MB, above the " +
                Math.round(max / 1048576) + " MB upload limit. Copy it into the server's data folder and load it from there.";
        }
        window.dash_clientside.set_props("data-upload-error", {children: message});
    }
    document.addEventListener("change", function (event) {
        if (event.target && event.target.closest && event.target.closest("#data-upload")) { check(event.target.files); }
    }, true);
    document.addEventListener("drop", function (event) {
        if (event.target && event.target.closest && event.target.closest("#data-upload")) { check(event.dataTransfer && event.dataTransfer.files); }
    }, true);
})();
