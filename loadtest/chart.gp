# loadtest/chart.gp: bar charts of req/s and CPU per request, from the
# medians loadtest/run writes (system, shape, req/s, CPU us/req; tab-separated).
# gnuplot -e "data='FILE'; out='PNG'" loadtest/chart.gp
set terminal pngcairo size 1200,520 font ",10"
set output out
set datafile separator "\t"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set xtics rotate by -30 noenhanced
set key off
set multiplot layout 1,2 title "hopcount vs nginx (same machine, same run)"
set title "requests per second (higher is better)"
set yrange [0:*]
plot data using 3:xticlabels(sprintf("%s %s", strcol(1), strcol(2))) lc rgb "#3b7dd8"
set title "CPU µs per request, server + its Redis (lower is better)"
plot data using 4:xticlabels(sprintf("%s %s", strcol(1), strcol(2))) lc rgb "#d8703b"
unset multiplot
